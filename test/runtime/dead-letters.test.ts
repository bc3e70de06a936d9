import { afterAll, beforeAll, expect, test } from 'vitest';
import { listDeadLetters, type StoredDeadLetter } from '#shared/jobs/dead-letter';
import { replayDeadLetter, replayTargets } from '#shared/jobs/replay';
import { termReason } from '#shared/jobs/replies';
import { serverFeatures } from '#shared/nats/server-features';
import { startNatsServer, type NatsServer } from '../nats-server.ts';
import { byJob, createRuntimeFixture, type RuntimeFixture } from '../runtime-setup.ts';
import { waitFor } from '../wait.ts';

let server: NatsServer;
let fx: RuntimeFixture;

beforeAll(async () => {
  server = await startNatsServer();
  fx = await createRuntimeFixture(server.url, { maxAttempts: 3, backoff: { initialMs: 100, multiplier: 2, maxMs: 1_000, jitter: 0.2 } });
  await fx.startWorker();
});
afterAll(async () => {
  await fx?.close();
  await server?.stop();
});

const deadLettersOf = async (jobId: string): Promise<StoredDeadLetter[]> =>
  (await listDeadLetters(fx.jsm)).filter((d) => d.record.stream === fx.spec.stream && d.record.jobId === jobId);

test('a job that fails every attempt yields exactly one dead letter with every field', async () => {
  await fx.enqueue({ id: 'always-fails', plan: ['throw'] });
  const [dead] = await waitFor(async () => {
    const found = await deadLettersOf('always-fails');
    return found.length > 0 ? found : undefined;
  }, { timeoutMs: 15_000, what: 'the dead letter' });
  // Nothing more arrives: the job was terminated, not redelivered.
  await waitFor(async () => (await fx.jsm.consumers.info(fx.spec.stream, fx.spec.consumer)).num_ack_pending === 0 || undefined);
  expect(await deadLettersOf('always-fails')).toHaveLength(1);
  const r = dead!.record;
  expect(r).toMatchObject({
    job: 'test.job',
    jobId: 'always-fails',
    stream: fx.spec.stream,
    consumer: fx.spec.consumer,
    subject: fx.spec.subject,
    reason: 'exhausted',
    attempts: 3,
    maxAttempts: 3,
    payloadEncoding: 'utf8',
  });
  expect(JSON.parse(r.payload)).toMatchObject({ id: 'always-fails', plan: ['throw'] });
  expect(r.headers['Handoff-Job-Id']).toEqual(['always-fails']);
  expect(r.error).toContain('planned failure on attempt 3');
  expect(r.failures.map((f) => f.attempt)).toEqual([1, 2, 3]);
  expect(Date.parse(r.firstAttemptAt)).toBeLessThan(Date.parse(r.lastAttemptAt));
  expect(Date.parse(r.deadAt)).toBeGreaterThanOrEqual(Date.parse(r.lastAttemptAt));
  const attempts = (byJob(await fx.reports()).get('always-fails') ?? []).filter((x) => x.event === 'start');
  expect(attempts).toHaveLength(3);
});

test('unparseable and schema-invalid payloads are dead-lettered on their first delivery', async () => {
  await fx.publisher.publishRaw(fx.spec.subject, new Uint8Array([0xff, 0xfe, 0x00, 0x7b]), { id: 'garbage' });
  await fx.publisher.publish(fx.spec.subject, { id: 'bad', plan: 'not-a-list' }, { id: 'schema-invalid' });
  const garbage = await waitFor(async () => (await deadLettersOf('garbage'))[0], { what: 'garbage dead letter' });
  const invalid = await waitFor(async () => (await deadLettersOf('schema-invalid'))[0], { what: 'invalid dead letter' });
  expect(garbage.record).toMatchObject({ reason: 'invalid_payload', attempts: 1, payloadEncoding: 'base64' });
  expect(Buffer.from(garbage.record.payload, 'base64')).toEqual(Buffer.from([0xff, 0xfe, 0x00, 0x7b]));
  expect(invalid.record).toMatchObject({ reason: 'invalid_payload', attempts: 1 });
  expect(invalid.record.error).toMatch(/invalid payload/);
});

test('a permanent error is dead-lettered at once, and replay runs the job again under its job id', async () => {
  await fx.enqueue({ id: 'needs-replay', plan: ['throw-until-replayed'] });
  const dead = await waitFor(async () => (await deadLettersOf('needs-replay'))[0], { timeoutMs: 15_000, what: 'dead letter' });
  expect(dead.record.attempts).toBe(3);

  // This file's job is a test job, not one of the contracts': it is the only target given here.
  const replay = { publisher: fx.publisher, jsm: fx.jsm, targets: replayTargets([fx.spec]) };
  const result = await replayDeadLetter(replay, dead.id);
  expect(result).toMatchObject({ replayed: true, jobId: 'needs-replay' });
  // Pressing replay twice does not run the job twice: the dead letter is gone.
  expect((await replayDeadLetter(replay, dead.id)).replayed).toBe(false);

  const done = await waitFor(async () => (await fx.reports()).find((r) => r.id === 'needs-replay' && r.event === 'done'), {
    what: 'the replayed job to complete',
  });
  expect(done.jobId).toBe('needs-replay');
  expect(await deadLettersOf('needs-replay')).toHaveLength(0);

  await fx.enqueue({ id: 'permanent', plan: ['permanent'] });
  const permanent = await waitFor(async () => (await deadLettersOf('permanent'))[0], { what: 'permanent dead letter' });
  expect(permanent.record).toMatchObject({ reason: 'permanent', attempts: 1 });
});

test('a dead-lettered job is terminated once; on 2.10+ the MSG_TERMINATED advisory says why, on 2.9 it is a plain term', async () => {
  const features = serverFeatures(fx.nc);
  const advisories: Array<{ stream_seq: number; deliveries: number; reason?: string }> = [];
  const sub = fx.nc.subscribe(`$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED.${fx.spec.stream}.${fx.spec.consumer}`, {
    callback: (_error, m) => void advisories.push(m.json()),
  });
  await fx.nc.flush();
  try {
    await fx.enqueue({ id: 'terminated-with-reason', plan: ['permanent'] });
    const dead = await waitFor(async () => (await deadLettersOf('terminated-with-reason'))[0], { what: 'the dead letter' });
    const advisory = await waitFor(() => advisories.find((a) => a.stream_seq === dead.record.streamSeq), { what: 'the MSG_TERMINATED advisory' });
    expect(advisory.deliveries).toBe(1);
    if (features.termReason) {
      expect(advisory.reason).toBe(termReason({ reason: 'permanent', error: dead.record.error }));
      expect(advisory.reason).toMatch(/^dead-lettered \(permanent\): /);
    } else {
      expect(advisory.reason ?? '').toBe('');
    }
    // Terminated, not redelivered: a term the server did not understand would come back after ack-wait.
    await waitFor(async () => (await fx.jsm.consumers.info(fx.spec.stream, fx.spec.consumer)).num_ack_pending === 0 || undefined, {
      what: 'nothing ack-pending',
    });
    expect((byJob(await fx.reports()).get('terminated-with-reason') ?? []).filter((r) => r.event === 'start')).toHaveLength(1);
  } finally {
    sub.unsubscribe();
  }
});
