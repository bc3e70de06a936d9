import { afterEach, expect, test } from 'vitest';
import type { PeekingRateLimiter } from '#shared/http/rate-limit';
import { UnknownQueueError } from '#shared/jobs/queue-control';
import type { JobStory } from '#shared/jobs/job-story';
import { buildApp } from '../../services/console/src/app.ts';
import type { AdminData } from '../../services/console/src/console-data.ts';
import { quietLog } from '../runtime-setup.ts';

// Pause, resume and a job's page with a plain fake of the console's data (no NATS).
const TOKEN = 'a-test-admin-token-of-some-length';
const bearer = { authorization: `Bearer ${TOKEN}` };
const story: JobStory = {
  jobId: 'mail-1', job: 'mail.send', subject: 'mail.send', stream: 'MAIL', consumer: 'mailer-send', maxAttempts: 3,
  payload: '{"to":"<b>x</b>"}', traceIds: ['4bf92f3577b34da6a3ce929d0e0e4736'],
  deliveries: [{ attempt: 1, streamSeq: 1, worker: 'mailer@h:1', startedAt: '2026-01-01T00:00:00.000Z', durationMs: 5, outcome: 'ok', reply: 'ack', counted: true }],
  state: { kind: 'done', at: '2026-01-01T00:00:00.005Z' },
};

const make = () => {
  const paused = new Set<string>();
  const data: AdminData = {
    queues: async () => [{ stream: 'MAIL', consumer: 'mailer-send', messages: 0, pending: 0, ackPending: 0, redelivered: 0, ...(paused.size ? { paused: { how: 'server' as const, scope: 'consumer' as const } } : {}) }],
    deadLetters: async () => ({ total: 0, items: [] }),
    replay: async () => ({ replayed: false }),
    latestOrders: async () => ({ ok: true, orders: [] }),
    order: async () => ({ ok: true, orders: [] }),
    async pause(name) {
      if (name !== 'MAIL/mailer-send') throw new UnknownQueueError(`no stream or consumer named ${name}`);
      paused.add(name);
      return { target: { stream: 'MAIL', consumer: 'mailer-send', consumers: ['mailer-send'] }, how: 'server', stillPulling: [] };
    },
    async resume(name) {
      paused.delete(name);
      return { target: { stream: 'MAIL', consumer: 'mailer-send', consumers: ['mailer-send'] }, stillPausedByStream: false };
    },
    jobStory: async (id) => (id === story.jobId ? story : undefined),
    rates: () => [],
  };
  const allowAll: PeekingRateLimiter = { hit: async () => ({ allowed: true, remaining: 1 }), peek: async () => ({ allowed: true, remaining: 1 }) };
  const sessions = { start: async () => undefined, active: async () => false, end: async () => undefined };
  const app = buildApp({ data, token: TOKEN, consoleUrl: 'https://admin.example.test', trustProxy: false, limiter: allowAll, sessions, isReady: () => true, log: quietLog });
  apps.push(app);
  return { app, paused };
};
const apps: Array<ReturnType<typeof buildApp>> = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((a) => a.close()));
});

test('pause and resume answer JSON with a message and the new queue rows; unknown queues are 404', async () => {
  const { app, paused } = make();
  const headers = { ...bearer, origin: 'https://admin.example.test', accept: 'application/json' };
  const res = await app.inject({ method: 'POST', url: '/queues/pause?name=MAIL%2Fmailer-send', headers });
  expect(res.statusCode).toBe(200);
  expect(res.json()).toMatchObject({ ok: true, action: 'pause', message: expect.stringContaining('Paused MAIL/mailer-send until resumed') });
  expect(res.json().queues).toContain('data-action="resume"');
  expect(paused.has('MAIL/mailer-send')).toBe(true);
  const resumed = await app.inject({ method: 'POST', url: '/queues/resume?name=MAIL%2Fmailer-send', headers });
  expect(resumed.json()).toMatchObject({ action: 'resume', message: expect.stringContaining('delivered again, in order') });
  const unknown = await app.inject({ method: 'POST', url: '/queues/pause?name=NOPE', headers });
  expect(unknown.statusCode).toBe(404);
  expect(unknown.json()).toMatchObject({ code: 'not_found', detail: 'no stream or consumer named NOPE' });
});

test('a pause from another site is refused, and without a name it is a 400', async () => {
  const { app, paused } = make();
  const cross = await app.inject({ method: 'POST', url: '/queues/pause?name=MAIL%2Fmailer-send', headers: { ...bearer, origin: 'https://evil.example' } });
  expect(cross.statusCode).toBe(403);
  expect(paused.size).toBe(0);
  const nameless = await app.inject({ method: 'POST', url: '/queues/pause', headers: { ...bearer, origin: 'https://admin.example.test' } });
  expect(nameless.statusCode).toBe(400);
});

test('a job\'s page shows its attempts with every value escaped; an unknown job is a 404 page or problem', async () => {
  const { app } = make();
  const page = await app.inject({ url: '/jobs?id=mail-1', headers: bearer });
  expect(page.statusCode).toBe(200);
  expect(page.body).toContain('4bf92f3577b34da6a3ce929d0e0e4736');
  expect(page.body).toContain('&#60;b&#62;x&#60;/b&#62;');
  expect(page.body).not.toContain('<b>x</b>');
  const missing = await app.inject({ url: '/jobs?id=nope', headers: bearer });
  expect(missing.statusCode).toBe(404);
  expect(missing.body).toContain('No job nope');
  const json = await app.inject({ url: '/jobs?id=nope', headers: { ...bearer, accept: 'application/json' } });
  expect(json.json()).toMatchObject({ code: 'not_found' });
  expect((await app.inject({ url: '/jobs?id=mail-1', headers: { ...bearer, accept: 'application/json' } })).json()).toMatchObject({ jobId: 'mail-1' });
});
