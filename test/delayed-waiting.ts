import type { ConsumerInfo, JetStreamManager } from '@nats-io/jetstream';
import { notBeforeOf } from '#shared/jobs/defer';

/** Whether `subject` is one the filter takes (`*` one token, `>` the rest). */
const matches = (filter: string | undefined, subject: string) => {
  if (!filter) return true;
  const f = filter.split('.');
  const s = subject.split('.');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '>') return s.length > i;
    if (i >= s.length || (f[i] !== '*' && f[i] !== s[i])) return false;
  }
  return f.length === s.length;
};

/**
 * How many of a consumer's ack-pending messages are delayed jobs whose time has not come: on 2.9
 * the runner defers them (nak with the remaining delay), so a payment reminder or an expiry waits
 * ack-pending for minutes or hours. That is waiting, not unfinished work; everything else is.
 */
export const waitingDelayedJobs = async (
  jsm: Pick<JetStreamManager, 'streams'>,
  info: Pick<ConsumerInfo, 'stream_name' | 'ack_floor' | 'delivered' | 'num_ack_pending'> & { config: { filter_subject?: string } },
): Promise<number> => {
  if (info.num_ack_pending === 0) return 0;
  let waiting = 0;
  const last = Math.min(info.delivered.stream_seq, info.ack_floor.stream_seq + 2_000);
  for (let seq = info.ack_floor.stream_seq + 1; seq <= last; seq++) {
    const m = await jsm.streams.getMessage(info.stream_name, { seq }).catch(() => null);
    // Another consumer's subject in the same stream is not this consumer's to wait for.
    if (!m || !matches(info.config.filter_subject, m.subject)) continue;
    const due = notBeforeOf({ headers: m.header });
    if (due !== undefined && due > Date.now()) waiting++;
  }
  return waiting;
};
