import { headers as natsHeaders } from '@nats-io/transport-node';
import { expect, test } from 'vitest';
import { z } from 'zod';
import type { JobSpec } from '#shared/contracts/spec';
import type { PublishOptions } from '#shared/nats/publish';
import { notBeforeOf } from '../defer.ts';
import { createJobScheduler, scheduleSubject } from '../schedule.ts';

const quiet = { info: () => {}, warn: () => {}, error: () => {}, debug: () => {} };
const job: JobSpec<{ orderId: string }> = {
  name: 'orders.reminder',
  stream: 'ORDERS',
  subject: 'orders.reminder.due',
  consumer: 'ticketing-order-reminder',
  schema: z.object({ orderId: z.string() }),
  timeoutMs: 1_000,
  maxAttempts: 3,
  backoff: { initialMs: 100, multiplier: 2, maxMs: 1_000, jitter: 0 },
  concurrency: 1,
  ackWaitMs: 1_000,
  delayed: { schedules: 'orders.scheduled' },
};

const fakes = (version: string, allowsSchedules: boolean) => {
  const published: Array<{ subject: string; payload: unknown; options: PublishOptions | undefined }> = [];
  let infoCalls = 0;
  const scheduler = createJobScheduler({
    publisher: { publish: async (subject, payload, options) => (published.push({ subject, payload, options }), { stream: 'ORDERS', seq: 1, duplicate: false }) },
    jsm: { streams: { info: async () => (infoCalls++, { config: { allow_msg_schedules: allowsSchedules } }) } } as never,
    serverVersion: () => version,
    log: quiet,
  });
  return { scheduler, published, infoCalls: () => infoCalls };
};

test('on 2.12+ with a stream that allows schedules, the job waits as an @at schedule targeting its subject', async () => {
  const { scheduler, published } = fakes('2.15.1', true);
  const notBefore = new Date(Date.now() + 60_000);
  expect(await scheduler.schedule(job, { orderId: 'ord_1' }, { id: 'remind:ord_1', notBefore })).toBe('schedule');
  expect(published).toEqual([
    {
      subject: 'orders.scheduled.remind:ord_1',
      payload: { orderId: 'ord_1' },
      options: {
        id: 'remind:ord_1',
        headers: { 'Handoff-Not-Before': notBefore.toISOString(), 'Nats-Schedule': `@at ${notBefore.toISOString()}`, 'Nats-Schedule-Target': 'orders.reminder.due' },
      },
    },
  ]);
});

test('on 2.9, or where the stream has no schedules, the job goes to its subject with its not-before time for the runner', async () => {
  const notBefore = new Date(Date.now() + 60_000);
  for (const [version, allows] of [['2.9.10', true], ['2.15.1', false]] as const) {
    const { scheduler, published } = fakes(version, allows);
    expect(await scheduler.schedule(job, { orderId: 'ord_2' }, { id: 'remind:ord_2', notBefore })).toBe('runner');
    expect(published).toEqual([{ subject: 'orders.reminder.due', payload: { orderId: 'ord_2' }, options: { id: 'remind:ord_2', headers: { 'Handoff-Not-Before': notBefore.toISOString() } } }]);
  }
});

test('a stream found to allow schedules is not asked again', async () => {
  const { scheduler, infoCalls } = fakes('2.15.1', true);
  for (let i = 0; i < 3; i++) await scheduler.schedule(job, { orderId: `ord_${i}` }, { id: `remind:ord_${i}`, notBefore: new Date(Date.now() + 60_000) });
  expect(infoCalls()).toBe(1);
});

test('a schedule subject is one token per job id; ids that are not subject-safe are hashed', () => {
  expect(scheduleSubject('orders.scheduled', 'expire:ord_t0abc')).toBe('orders.scheduled.expire:ord_t0abc');
  const odd = scheduleSubject('orders.scheduled', 'a.b *>');
  expect(odd).toMatch(/^orders\.scheduled\.sha256-[0-9a-f]{64}$/);
  expect(scheduleSubject('orders.scheduled', 'a.b *>')).toBe(odd);
});

test('the runner reads the not-before header; absent or unreadable means any time', () => {
  const h = natsHeaders();
  h.set('Handoff-Not-Before', '2030-01-02T03:04:05.678Z');
  expect(notBeforeOf({ headers: h })).toBe(Date.parse('2030-01-02T03:04:05.678Z'));
  const bad = natsHeaders();
  bad.set('Handoff-Not-Before', 'tomorrow');
  expect(notBeforeOf({ headers: bad })).toBeUndefined();
  expect(notBeforeOf({ headers: undefined })).toBeUndefined();
});
