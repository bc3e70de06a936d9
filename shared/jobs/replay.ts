import type { JetStreamManager } from '@nats-io/jetstream';
import { JOBS } from '#shared/contracts/jobs';
import type { JobSpec } from '#shared/contracts/spec';
import { STREAMS } from '#shared/contracts/streams';
import { SUBJECTS } from '#shared/contracts/subjects';
import { HEADERS } from '#shared/nats/headers';
import { isNotFound } from '#shared/nats/kv';
import type { Publisher } from '#shared/nats/publish';
import { DeadLetterRecord, decodePayload } from './dead-letter.ts';

/**
 * Replay that cannot be aimed. Every worker may publish to its own `dlq.<stream>.<consumer>`, so
 * the body of a dead letter is only as trustworthy as the least trusted worker: a compromised
 * mailer can store a "dead letter" naming `payments.event.received`. The target therefore comes
 * from where the record is stored — the DLQ subject names a consumer, the contracts name that
 * consumer's filter subject — and a record that disagrees with its DLQ subject is refused. A
 * replay can only ever feed a job back to the consumer whose dead-letter subject held it, so a
 * worker can at most make itself run its own job again.
 */

type Target = Pick<JobSpec, 'name' | 'stream' | 'consumer' | 'subject'>;

/** Where each consumer's dead letters may go back to, keyed by `<stream>.<consumer>`. */
export type ReplayTargets = ReadonlyMap<string, Target>;

const hasWildcard = (subject: string) => subject.split('.').some((token) => token === '*' || token === '>');

export const replayTargets = (jobs: readonly Target[]): ReplayTargets => {
  const map = new Map<string, Target>();
  for (const job of jobs) {
    // A filter with a wildcard would leave the concrete subject to the record's body again.
    if (hasWildcard(job.subject)) throw new Error(`job ${job.name}: a replay target must be a concrete subject, not ${job.subject}`);
    map.set(`${job.stream}.${job.consumer}`, job);
  }
  return map;
};

/** Every job declared in shared/contracts: the only subjects a replay may publish to. */
export const CONTRACT_TARGETS: ReplayTargets = replayTargets(JOBS);

export type ReplayRefusal = { code: 'not_a_dead_letter_subject' | 'unknown_consumer' | 'record_mismatch' | 'unreadable_record'; reason: string };

export type ReplayCheck = { ok: true; subject: string; job: string } | ({ ok: false } & ReplayRefusal);

/** Decides where a dead letter stored on `dlqSubject` may be replayed to, from contracts alone. */
export const checkReplay = (targets: ReplayTargets, dlqSubject: string, record: Pick<DeadLetterRecord, 'stream' | 'consumer' | 'subject'>): ReplayCheck => {
  const tokens = dlqSubject.split('.');
  if (tokens.length !== 3 || tokens[0] !== SUBJECTS.deadLetterPrefix) {
    return { ok: false, code: 'not_a_dead_letter_subject', reason: `stored on ${dlqSubject}, not on a ${SUBJECTS.deadLetterPrefix}.<stream>.<consumer> subject` };
  }
  const [, stream, consumer] = tokens as [string, string, string];
  const target = targets.get(`${stream}.${consumer}`);
  if (!target) return { ok: false, code: 'unknown_consumer', reason: `stored on ${dlqSubject}: ${stream}/${consumer} is no job declared in the contracts` };
  const disagree = (
    [
      ['stream', record.stream, target.stream],
      ['consumer', record.consumer, target.consumer],
      ['subject', record.subject, target.subject],
    ] as const
  ).filter(([, said, expected]) => said !== expected);
  if (disagree.length > 0) {
    const what = disagree.map(([field, said, expected]) => `${field} "${said}" (expected "${expected}")`).join(', ');
    return { ok: false, code: 'record_mismatch', reason: `the record disagrees with its dead-letter subject ${dlqSubject}: ${what}` };
  }
  return { ok: true, subject: target.subject, job: target.name };
};

export type ReplayResult =
  | { replayed: true; subject: string; jobId: string }
  | { replayed: false; refused?: ReplayRefusal };

const jsonOrUndefined = (m: { json(): unknown }): unknown => {
  try {
    return m.json();
  } catch {
    return undefined;
  }
};

// `Nats-*` headers are instructions to the server (deduplication id, expected stream or sequence,
// rollups, TTLs, schedules): a replay carries none of the original's, whoever wrote the record.
const isServerDirective = (header: string) => header.toLowerCase().startsWith('nats-');

/**
 * Publishes a dead job again with its original payload and job id on the subject its DLQ subject
 * allows (see above), then removes the dead letter. The replay's own `Nats-Msg-Id` is tied to the
 * dead letter, so pressing replay twice (or two operators at once) runs the job once. A refused
 * record stays in the DLQ for whoever investigates it.
 */
export const replayDeadLetter = async (
  deps: { publisher: Publisher; jsm: JetStreamManager; targets?: ReplayTargets },
  id: number,
): Promise<ReplayResult> => {
  let stored;
  try {
    stored = await deps.jsm.streams.getMessage(STREAMS.DLQ.name, { seq: id });
  } catch (error) {
    if (isNotFound(error)) return { replayed: false };
    throw error;
  }
  if (!stored) return { replayed: false };
  const parsed = DeadLetterRecord.safeParse(jsonOrUndefined(stored));
  if (!parsed.success) return { replayed: false, refused: { code: 'unreadable_record', reason: `message ${id} on ${stored.subject} is not a dead-letter record` } };
  const record = parsed.data;
  const check = checkReplay(deps.targets ?? CONTRACT_TARGETS, stored.subject, record);
  if (!check.ok) return { replayed: false, refused: { code: check.code, reason: check.reason } };

  const headers: Record<string, string> = {};
  for (const [key, values] of Object.entries(record.headers)) {
    if (!isServerDirective(key) && values[0] !== undefined) headers[key] = values[0];
  }
  headers[HEADERS.jobId] = record.jobId;
  headers[HEADERS.replayOf] = String(id);
  await deps.publisher.publishRaw(check.subject, decodePayload(record), {
    id: `${record.jobId}~replay~${id}`,
    headers,
    retryForMs: 10_000,
  });
  await deps.jsm.streams.deleteMessage(STREAMS.DLQ.name, id, false).catch(() => false);
  return { replayed: true, subject: check.subject, jobId: record.jobId };
};
