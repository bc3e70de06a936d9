import { headers as natsHeaders, type MsgHdrs } from '@nats-io/transport-node';

/** Headers Handoff sets on its own messages. */
export const HEADERS = {
  /** Stable id of a job across retries and dead-letter replays (handlers key idempotency on it). */
  jobId: 'Handoff-Job-Id',
  /** Dead-letter sequence a replayed message came from. */
  replayOf: 'Handoff-Replay-Of',
  /** A delayed job: the runner does not run it before this time (ISO 8601, UTC). */
  notBefore: 'Handoff-Not-Before',
  msgId: 'Nats-Msg-Id',
} as const;

export const toNatsHeaders = (values: Record<string, string>): MsgHdrs => {
  const h = natsHeaders();
  for (const [key, value] of Object.entries(values)) h.set(key, value);
  return h;
};

export const headersToRecord = (h: MsgHdrs | undefined): Record<string, string[]> => {
  const out: Record<string, string[]> = {};
  if (!h) return out;
  for (const key of h.keys()) out[key] = h.values(key);
  return out;
};

export const firstHeaders = (h: MsgHdrs | undefined): Record<string, string> => {
  const out: Record<string, string> = {};
  if (!h) return out;
  for (const key of h.keys()) out[key] = h.get(key);
  return out;
};
