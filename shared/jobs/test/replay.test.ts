import { expect, test } from 'vitest';
import * as auth from '#shared/contracts/auth';
import { JOBS } from '#shared/contracts/jobs';
import * as mail from '#shared/contracts/mail';
import * as orders from '#shared/contracts/orders';
import * as payments from '#shared/contracts/payments';
import * as tickets from '#shared/contracts/tickets';
import { checkReplay, CONTRACT_TARGETS, replayTargets } from '../replay.ts';

const isJobSpec = (value: unknown): boolean =>
  typeof value === 'object' && value !== null && ['stream', 'consumer', 'subject', 'schema', 'ackWaitMs'].every((k) => k in value);

test('the replay registry holds every job spec declared in shared/contracts', () => {
  const declared = new Set<unknown>();
  for (const module of [auth, mail, orders, payments, tickets]) {
    for (const value of Object.values(module)) {
      if (isJobSpec(value)) declared.add(value);
      else if (typeof value === 'object' && value !== null) for (const inner of Object.values(value)) if (isJobSpec(inner)) declared.add(inner);
    }
  }
  expect(declared.size).toBeGreaterThanOrEqual(7);
  for (const spec of declared) expect(JOBS, (spec as { name: string }).name).toContain(spec);
  expect(CONTRACT_TARGETS.size).toBe(JOBS.length);
});

test('a dead letter goes back to the filter subject of the consumer its DLQ subject names', () => {
  expect(checkReplay(CONTRACT_TARGETS, 'dlq.MAIL.mailer-send', { stream: 'MAIL', consumer: 'mailer-send', subject: 'mail.send' })).toEqual({ ok: true, subject: 'mail.send', job: 'mail.send' });
  expect(checkReplay(CONTRACT_TARGETS, 'dlq.TICKETS.ticketing-generate', { stream: 'TICKETS', consumer: 'ticketing-generate', subject: 'tickets.generate' })).toMatchObject({ ok: true, subject: 'tickets.generate' });
});

test('a record that names another target than its DLQ subject is refused, whichever field it edits', () => {
  const stored = 'dlq.MAIL.mailer-send';
  for (const record of [
    { stream: 'MAIL', consumer: 'mailer-send', subject: 'payments.event.received' },
    { stream: 'PAYMENTS', consumer: 'ticketing-payments', subject: 'payments.event.received' },
    { stream: 'MAIL', consumer: 'mailer-send', subject: '$JS.API.STREAM.DELETE.PAYMENTS' },
    { stream: 'AUTH', consumer: 'mailer-send', subject: 'mail.send' },
  ]) {
    const check = checkReplay(CONTRACT_TARGETS, stored, record);
    expect(check, JSON.stringify(record)).toMatchObject({ ok: false, code: 'record_mismatch' });
  }
});

test('only contracts consumers on dlq.<stream>.<consumer> subjects are replay targets', () => {
  const record = { stream: 'X', consumer: 'y', subject: 'x.job' };
  expect(checkReplay(CONTRACT_TARGETS, 'dlq.X.y', record)).toMatchObject({ ok: false, code: 'unknown_consumer' });
  expect(checkReplay(CONTRACT_TARGETS, 'dlq.MAIL.mailer-send.extra', { stream: 'MAIL', consumer: 'mailer-send', subject: 'mail.send' })).toMatchObject({ ok: false, code: 'not_a_dead_letter_subject' });
  expect(checkReplay(CONTRACT_TARGETS, 'mail.send', { stream: 'MAIL', consumer: 'mailer-send', subject: 'mail.send' })).toMatchObject({ ok: false, code: 'not_a_dead_letter_subject' });
  // A test's own job becomes a target only where a caller passes it explicitly.
  expect(checkReplay(replayTargets([{ name: 'x', ...record }]), 'dlq.X.y', record)).toMatchObject({ ok: true, subject: 'x.job' });
});

test('a job whose filter subject has a wildcard cannot be a replay target', () => {
  expect(() => replayTargets([{ name: 'w', stream: 'W', consumer: 'w', subject: 'w.>' }])).toThrow(/concrete subject/);
});
