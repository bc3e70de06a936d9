import { expect, test } from 'vitest';
import { SUBJECTS } from '#shared/contracts/subjects';
import type { DeadLetterRecord } from '#shared/jobs/dead-letter';
import { createOnTicketsMailDeadLettered } from '../src/handlers/tickets-dead-lettered.ts';

const quiet = { info: () => {}, warn: () => {}, error: () => {}, debug: () => {} };

const record = (payload: string, overrides: Partial<DeadLetterRecord> = {}): DeadLetterRecord => ({
  v: 1,
  job: 'tickets.ready',
  jobId: 'ready:ord_1',
  stream: 'TICKET_EVENTS',
  consumer: 'mailer-tickets',
  subject: 'tickets.ready',
  streamSeq: 42,
  payload,
  payloadEncoding: 'utf8',
  headers: {},
  reason: 'permanent',
  error: 'SMTP rejected the message: EENVELOPE 550 mailbox unavailable',
  attempts: 1,
  maxAttempts: 10,
  firstAttemptAt: '2026-01-01T00:00:00.000Z',
  lastAttemptAt: '2026-01-01T00:00:00.000Z',
  deadAt: '2026-01-01T00:00:01.000Z',
  failures: [],
  ...overrides,
});

const ready = JSON.stringify({ v: 1, orderId: 'ord_1', email: 'a@example.test', event: 'Gig', tickets: [{ n: 1, attendee: 'Ada', object: 'ord_1/1.pdf' }] });

const recorder = () => {
  const published: Array<{ subject: string; payload: unknown; id: string | undefined }> = [];
  return { published, publisher: { publish: async (subject: string, payload: unknown, options?: { id?: string }) => (published.push({ subject, payload, id: options?.id }), { seq: 1, duplicate: false, stream: 'TICKETS' } as never) } };
};

test('a dead-lettered tickets email publishes tickets.mail_failed for its order with the reason, once per dead-lettered message', async () => {
  const { published, publisher } = recorder();
  const hook = createOnTicketsMailDeadLettered({ publisher, log: quiet, now: () => new Date('2026-01-01T00:00:02.000Z') });
  await hook(record(ready));
  await hook(record(ready, { reason: 'exhausted', attempts: 10, error: 'SMTP send failed (will retry): ECONNREFUSED', streamSeq: 43 }));
  expect(published).toEqual([
    {
      subject: SUBJECTS.ticketsMailFailed,
      id: 'mail-failed:TICKET_EVENTS:42',
      payload: { v: 1, orderId: 'ord_1', failedAt: '2026-01-01T00:00:02.000Z', reason: 'the tickets email could not be sent after 1 attempt(s) (permanent): SMTP rejected the message: EENVELOPE 550 mailbox unavailable' },
    },
    expect.objectContaining({ id: 'mail-failed:TICKET_EVENTS:43', payload: expect.objectContaining({ reason: expect.stringContaining('after 10 attempt(s) (exhausted)') }) }),
  ]);
});

test('a dead letter that names no readable order publishes nothing', async () => {
  const { published, publisher } = recorder();
  const hook = createOnTicketsMailDeadLettered({ publisher, log: quiet });
  await hook(record('not json', { reason: 'invalid_payload' }));
  await hook(record(JSON.stringify({ v: 1 }), { reason: 'invalid_payload' }));
  expect(published).toEqual([]);
});
