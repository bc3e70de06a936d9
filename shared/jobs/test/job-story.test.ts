import { expect, test } from 'vitest';
import type { JobEvent } from '#shared/contracts/job-events';
import { buildJobStory } from '#shared/jobs/job-story';
import { jobEventSubject, jobIdToken } from '#shared/jobs/job-events';
import { summarizePayload } from '#shared/jobs/payload-summary';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const event = (kind: JobEvent['kind'], attempt: number, at: string, extra: Partial<JobEvent> = {}): JobEvent => ({
  v: 1, kind, job: 'mail.send', jobId: 'mail-1', stream: 'MAIL', consumer: 'mailer-send', subject: 'mail.send', streamSeq: 7,
  attempt, maxAttempts: 10, worker: 'mailer@host:1', at, traceId: TRACE, ...extra,
});

test('two failures and a success: three attempts with their errors and delays, the trace, done', () => {
  const story = buildJobStory([
    event('started', 1, '2026-01-01T00:00:00.000Z', { payload: '{"to":"a***@example.test"}', timeoutMs: 60_000 }),
    event('finished', 1, '2026-01-01T00:00:00.100Z', { outcome: 'failed', reply: 'nak', durationMs: 100, error: '451 try later', retryInMs: 2_000 }),
    event('started', 2, '2026-01-01T00:00:02.200Z'),
    event('finished', 2, '2026-01-01T00:00:02.300Z', { outcome: 'failed', reply: 'nak', durationMs: 100, error: '451 try later', retryInMs: 4_000 }),
    event('started', 3, '2026-01-01T00:00:06.400Z'),
    event('finished', 3, '2026-01-01T00:00:06.500Z', { outcome: 'ok', reply: 'ack', durationMs: 100 }),
  ])!;
  expect(story.deliveries.map((d) => [d.attempt, d.outcome, d.error, d.retryInMs])).toEqual([
    [1, 'failed', '451 try later', 2_000],
    [2, 'failed', '451 try later', 4_000],
    [3, 'ok', undefined, undefined],
  ]);
  expect(story.traceIds).toEqual([TRACE]);
  expect(story.payload).toBe('{"to":"a***@example.test"}');
  expect(story.state).toEqual({ kind: 'done', at: '2026-01-01T00:00:06.500Z' });
});

test('a deferral is a delivery but not an attempt; a start without an end is running, or lost once long past its timeout', () => {
  const events = [
    event('started', 1, '2026-01-01T00:00:00.000Z', { timeoutMs: 1_000 }),
    event('finished', 1, '2026-01-01T00:00:00.050Z', { outcome: 'deferred', reply: 'nak', error: 'SMTP server asked to slow down', retryInMs: 2_000 }),
  ];
  const waiting = buildJobStory(events, Date.parse('2026-01-01T00:00:01Z'))!;
  expect(waiting.deliveries[0]).toMatchObject({ counted: false, outcome: 'deferred' });
  expect(waiting.state).toMatchObject({ kind: 'waiting', retryAt: '2026-01-01T00:00:02.050Z' });
  const running = [...events, event('started', 1, '2026-01-01T00:00:02.100Z')];
  expect(buildJobStory(running, Date.parse('2026-01-01T00:00:03Z'))!.state).toMatchObject({ kind: 'running', overdue: false });
  expect(buildJobStory(running, Date.parse('2026-01-01T00:10:00Z'))!.state).toMatchObject({ kind: 'running', overdue: true });
  expect(buildJobStory([])).toBeUndefined();
});

test('a dead job points at its dead letter', () => {
  const story = buildJobStory([
    event('started', 1, '2026-01-01T00:00:00.000Z'),
    event('finished', 1, '2026-01-01T00:00:00.010Z', { outcome: 'permanent', reply: 'dead-letter', error: '550 no such user', deadLetterReason: 'permanent', deadLetterId: 42 }),
  ])!;
  expect(story.state).toEqual({ kind: 'dead', at: '2026-01-01T00:00:00.010Z', deadLetterId: 42, reason: 'permanent' });
});

test('event subjects carry a fixed-size token of the job id, whatever characters the id has', () => {
  expect(jobIdToken('a.b*c>d')).toMatch(/^[A-Za-z0-9_-]{22}$/);
  expect(jobEventSubject('a.b*c>d', 'started', 'MAIL', 'mailer-send')).toBe(`jobs.event.${jobIdToken('a.b*c>d')}.started.MAIL.mailer-send`);
});

test('payload summaries hide secrets, mask addresses and cut long values', () => {
  const payload = { v: 1, to: 'alice@example.com', content: { template: 'magic_link', token: 'RAW-TOKEN-0123456789' }, notes: 'x'.repeat(500), list: [1, 2, 3, 4, 5, 6, 7] };
  const summary = summarizePayload(new TextEncoder().encode(JSON.stringify(payload)));
  expect(summary).not.toContain('RAW-TOKEN');
  expect(summary).not.toContain('alice@');
  expect(JSON.parse(summary)).toMatchObject({ to: 'a***@example.com', content: { token: '[hidden]' }, list: [1, 2, 3, 4, 5, '… 2 more'] });
  expect(summary.length).toBeLessThanOrEqual(601);
  expect(summarizePayload(new Uint8Array([0xff, 0x00]))).toBe('(2 bytes, not JSON)');
});
