import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { ORDERS_RPC } from '#shared/contracts/orders';
import type { JobSpec } from '#shared/contracts/spec';
import { listDeadLetters } from '#shared/jobs/dead-letter';
import { ensureConsumer, ensureStream } from '#shared/nats/ensure';
import { createRpcClient } from '#shared/nats/rpc';
import type { JobsRuntime } from '#shared/jobs/workers';
import { testJobsRuntime } from '../jobs-runtime.ts';
import { createDeadJobFixture, type DeadJobFixture } from '../console/dead-job.ts';
import { runCli, uniqueEmail } from '../magic-link/helpers.ts';
import { startNatsServer, type NatsServer } from '../nats-server.ts';
import { quietLog } from '../runtime-setup.ts';
import { startService, type RunningService } from '../services.ts';
import { uniqueName, waitFor } from '../wait.ts';

// `npm run cli -- …` as real processes against a nats-server with auth and ticketing running, the
// contracts' mail.send job run in the test, dead-lettering until healed, and a queue nobody consumes.
let nats: NatsServer;
let nc: NatsConnection;
let m: JobsRuntime;
let dead: DeadJobFixture;
let services: RunningService[] = [];
const cli = (...args: string[]) => runCli(args, { NATS_URL: nats.url, LOG_LEVEL: 'warn' });
const jobId = (label: string) => `${label}-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
const deadLetterOf = async (id: string) => (await listDeadLetters(m.jsm)).find((d) => d.record.jobId === id);

beforeAll(async () => {
  nats = await startNatsServer();
  const env = { NATS_URL: nats.url, SHUTDOWN_GRACE_MS: '1000' };
  services = await Promise.all([
    startService('auth', env),
    startService('ticketing', { ...env, TICKET_SIGNING_KEY: 'k'.repeat(40), RENDER_PROCESSES: '1' }),
  ]);
  nc = await connect({ servers: nats.url });
  m = await testJobsRuntime(nc);
  dead = await createDeadJobFixture(m);
});

afterAll(async () => {
  await dead?.stop();
  await Promise.all(services.map((s) => s.kill('SIGKILL')));
  await nc?.close();
  await nats?.stop();
});

test('users add creates a user once and says so; the same address again changes nothing', async () => {
  const email = uniqueEmail('cli-user');
  const added = await cli('users', 'add', email, '--name', 'Katherine Johnson');
  expect(added.code, added.output).toBe(0);
  expect(added.output).toMatch(new RegExp(`^added user ${email.replace(/[.+]/g, '\\$&')} \\(Katherine Johnson\\), id [0-9a-f-]{36}\\n$`));
  const again = await cli('users', 'add', email);
  expect(again.code).toBe(0);
  expect(again.output).toMatch(/already exists; nothing changed/);
});

test('orders show prints the order, its progress and attendees; --format json is the order view', async () => {
  const reply = await createRpcClient(nc, { timeoutMs: 5_000 }).call(ORDERS_RPC.create, {
    userId: 'user-cli',
    email: 'buyer@example.test',
    event: 'CLI Conf',
    attendees: [{ name: 'Ada Lovelace' }, { name: 'Alan Turing' }],
  });
  if (!reply.ok) throw new Error(reply.message);
  const { id } = reply.order;
  const text = await cli('orders', 'show', id);
  expect(text.code, text.output).toBe(0);
  expect(text.output).toContain(`order     ${id}`);
  expect(text.output).toContain('status    pending_payment');
  expect(text.output).toContain('event     CLI Conf');
  expect(text.output).toContain('tickets   0 of 2 generated');
  expect(text.output).toMatch(/\n +1\. Ada Lovelace\n +2\. Alan Turing\n/);
  const json = await cli('orders', 'show', id, '--format', 'json');
  expect(JSON.parse(json.output)).toMatchObject({ id, status: 'pending_payment', tickets: { total: 2, generated: 0 } });
  const missing = await cli('orders', 'show', 'ord_aaaaaaaaaaaaaaaaaaaa');
  expect(missing.code).toBe(1);
  expect(missing.output).toMatch(/error: no order ord_a+/);
});

test('queues shows every stream and durable consumer with messages, pending, ack-pending, redelivered and oldest unacked', async () => {
  // A queue with two jobs and nobody consuming it: both pending, the oldest has an age.
  const base = uniqueName('IDLE');
  const idle = { name: 'test.idle', stream: base, subject: `${base.toLowerCase()}.job`, consumer: `${base.toLowerCase()}-worker`, timeoutMs: 1_000, maxAttempts: 1, backoff: { initialMs: 1, multiplier: 1, maxMs: 1, jitter: 0 }, concurrency: 1, ackWaitMs: 5_000 } as JobSpec;
  await ensureStream({ jsm: m.jsm, log: quietLog, replicas: 1 }, { name: base, subjects: [idle.subject], retention: 'workqueue', description: 'idle' });
  await ensureConsumer({ jsm: m.jsm, log: quietLog, replicas: 1 }, idle);
  await m.publisher.publish(idle.subject, { n: 1 });
  await m.publisher.publish(idle.subject, { n: 2 });

  const table = await cli('queues');
  expect(table.code, table.output).toBe(0);
  const lines = table.output.trimEnd().split('\n');
  expect(lines[0]).toMatch(/^STREAM\s+CONSUMER\s+MESSAGES\s+PENDING\s+ACK-PENDING\s+REDELIVERED\s+OLDEST UNACKED\s+STATE$/);
  expect(lines).toEqual(expect.arrayContaining([expect.stringMatching(new RegExp(`^${base}\\s+${idle.consumer}\\s+2\\s+2\\s+0\\s+0\\s+(\\d+ms|\\d+s)\\s+active$`))]));
  expect(lines).toEqual(expect.arrayContaining([expect.stringMatching(/^AUTH\s+auth-magic-link\s+0\s+0\s+0\s+0\s+-\s+active$/)]));
  expect(lines).toEqual(expect.arrayContaining([expect.stringMatching(/^TICKETS\s+ticketing-generate\s+/)]));
  expect(lines).toEqual(expect.arrayContaining([expect.stringMatching(/^DLQ\s+-\s+\d+/)]));

  const json = await cli('queues', '--json');
  const rows = JSON.parse(json.output) as Array<Record<string, unknown>>;
  expect(rows).toContainEqual(expect.objectContaining({ stream: base, consumer: idle.consumer, messages: 2, pending: 2, ackPending: 0, redelivered: 0, oldestUnackedMs: expect.any(Number) }));
});

test('dlq list and show describe dead jobs; replay ID re-runs one to completion; replay --all the rest', async () => {
  const [a, b, c] = [jobId('cli-a'), jobId('cli-b'), jobId('cli-c')];
  for (const id of [a, b, c]) await dead.enqueue(id);
  const [da, db, dc] = await Promise.all([a, b, c].map((id) => waitFor(() => deadLetterOf(id), { timeoutMs: 15_000, what: `dead letter ${id}` })));

  const list = await cli('dlq', 'list');
  expect(list.code, list.output).toBe(0);
  expect(list.output.split('\n')[0]).toMatch(/^ID\s+JOB\s+JOB ID\s+REASON\s+ATTEMPTS\s+AGE\s+ERROR$/);
  for (const d of [da!, db!, dc!]) {
    expect(list.output).toMatch(new RegExp(`^\\s*${d.id}\\s+mail\\.send\\s+${d.record.jobId}\\s+permanent\\s+1\\s+\\S+( \\S+)?\\s+PermanentError: 550 5\\.1\\.1 mailbox`, 'm'));
  }

  const show = await cli('dlq', 'show', String(da!.id));
  expect(show.code).toBe(0);
  expect(JSON.parse(show.output)).toMatchObject({
    id: da!.id,
    job: 'mail.send',
    jobId: a,
    subject: dead.job.subject,
    reason: 'permanent',
    attempts: 1,
    payload: expect.stringContaining('a job that needs a fix'),
    failures: [expect.objectContaining({ attempt: 1, error: expect.stringContaining('550') })],
  });

  dead.heal();
  const replay = await cli('dlq', 'replay', String(da!.id));
  expect(replay.code, replay.output).toBe(0);
  expect(replay.output).toBe(`replayed ${da!.id}: job ${a} → ${dead.job.subject}\n`);
  await dead.waitCompleted(a);
  const gone = await cli('dlq', 'show', String(da!.id));
  expect(gone.code).toBe(1);
  expect(gone.output).toMatch(/no dead letter with id/);
  const twice = await cli('dlq', 'replay', String(da!.id));
  expect(twice.code).toBe(1);

  const all = await cli('dlq', 'replay', '--all');
  expect(all.code, all.output).toBe(0);
  expect(all.output).toMatch(new RegExp(`replayed ${db!.id}: job ${b}`));
  expect(all.output).toMatch(new RegExp(`replayed ${dc!.id}: job ${c}`));
  expect(all.output).toMatch(/^\d+ replayed$/m);
  await Promise.all([dead.waitCompleted(b), dead.waitCompleted(c)]);
  expect(await cli('dlq', 'list').then((r) => r.output)).toBe('no dead letters\n');
});

test('dlq purge deletes only dead jobs older than the duration', async () => {
  dead.breakAgain();
  const id = jobId('cli-purge');
  await dead.enqueue(id);
  const stored = await waitFor(() => deadLetterOf(id), { timeoutMs: 15_000, what: 'the dead letter to purge' });
  const keep = await cli('dlq', 'purge', '--older-than', '1d');
  expect(keep.output).toBe('purged 0 dead letters older than 1d\n');
  const purge = await cli('dlq', 'purge', '--older-than', '1ms');
  expect(purge.code, purge.output).toBe(0);
  expect(purge.output).toBe('purged 1 dead letter older than 1ms\n');
  expect((await cli('dlq', 'show', String(stored.id))).code).toBe(1);
});

test('bad arguments exit 2 with the reason and the usage', async () => {
  const cases: Array<[string[], RegExp]> = [
    [['dlq', 'replay'], /give one ID, or --all\nusage: npm run cli -- dlq replay ID\|--all/],
    [['dlq', 'replay', 'abc'], /not a dead-letter id: abc/],
    [['dlq', 'replay', '3', '--all'], /give one ID or --all, not both/],
    [['dlq', 'show'], /not a dead-letter id: \(missing\)/],
    [['dlq', 'purge'], /--older-than is required/],
    [['dlq', 'purge', '--older-than', 'soon'], /not a duration: soon/],
    [['dlq', 'list', '--limit', '0'], /--limit must be a positive whole number/],
    [['queues', 'extra'], /unexpected argument: extra/],
    [['orders', 'show'], /missing ID/],
    [['users', 'add', 'not-an-email'], /not a valid email address/],
    [['frobnicate'], /unknown command: frobnicate/],
  ];
  const results = await Promise.all(cases.map(([args]) => cli(...args)));
  results.forEach((result, i) => {
    expect(result.code, cases[i]![0].join(' ')).toBe(2);
    expect(result.output).toMatch(cases[i]![1]);
  });
});

test('NATS unreachable: every command that needs it exits 1 and names the address', async () => {
  const env = { NATS_URL: 'nats://127.0.0.1:1', CLI_CONNECT_TIMEOUT_MS: '1000' };
  const results = await Promise.all([['queues'], ['dlq', 'list'], ['dlq', 'replay', '--all']].map((args) => runCli(args, env)));
  for (const result of results) {
    expect(result.code).toBe(1);
    expect(result.output).toMatch(/^error: cannot reach NATS at nats:\/\/127\.0\.0\.1:1/);
  }
});
