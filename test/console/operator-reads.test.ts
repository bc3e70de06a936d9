/**
 * What operators read on every refresh — dead letters (CLI `dlq list`, the console's tail, replay
 * --all, purge) and queue stats (CLI `queues`, the console, /metrics) — leaves no consumer on the
 * server: the console refreshes every 2 s per open page, and a consumer per read would pile up
 * toward the server's limit (2.10+ refuse a stream's 1,001st consumer).
 */
import { Kvm } from '@nats-io/kv';
import { jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { ownedBy } from '#shared/contracts/ownership';
import { STREAMS } from '#shared/contracts/streams';
import { buildDeadLetter, listDeadLetters, publishDeadLetter, purgeDeadLetters } from '#shared/jobs/dead-letter';
import { ensureOwned, ensureStream } from '#shared/nats/ensure';
import { createPublisher } from '#shared/nats/publish';
import { readQueues } from '#shared/nats/queue-stats';
import { createAdminData } from '../../services/console/src/console-data.ts';
import { quietLog } from '../jobs-runtime.ts';
import { startNatsServer, type NatsServer } from '../nats-server.ts';
import { uniqueName } from '../wait.ts';

let server: NatsServer;
let nc: NatsConnection;
let jsm: JetStreamManager;

beforeAll(async () => {
  server = await startNatsServer();
  nc = await connect({ servers: server.url });
  jsm = await jetstreamManager(nc);
  await ensureOwned(nc, { jsm, log: quietLog, replicas: 1 }, ownedBy('console'));
});
afterAll(async () => {
  await nc?.close();
  await server?.stop();
});

/** Every consumer on the server, durable or not. */
const allConsumers = async () => {
  let n = 0;
  for await (const s of jsm.streams.list()) n += s.state.consumer_count;
  return n;
};

const storeDeadLetters = async (stream: string, count: number) => {
  const publisher = createPublisher(jetstream(nc), { retryForMs: 5_000 });
  for (let seq = 1; seq <= count; seq++) {
    const at = new Date().toISOString();
    await publishDeadLetter(
      publisher,
      buildDeadLetter({
        job: 'test.job',
        jobId: `${stream}-${seq}`,
        consumer: 'test-worker',
        stream,
        subject: 'test.job',
        streamSeq: seq,
        data: new TextEncoder().encode(JSON.stringify({ id: seq, token: 'secret-token' })),
        headers: {},
        reason: 'permanent',
        error: `failure ${seq}`,
        attempts: 1,
        maxAttempts: 3,
        enqueuedAt: Date.now(),
        lastAttemptAt: at,
        failures: [{ attempt: 1, at, error: `failure ${seq}` }],
      }),
    );
  }
};

test('listing, tailing and purging dead letters and reading queue stats, 100 times each, leave the consumer count flat', async () => {
  const stream = uniqueName('T');
  await ensureStream({ jsm, log: quietLog, replicas: 1 }, { name: stream, subjects: [`${stream.toLowerCase()}.>`], retention: 'workqueue', description: 'a queue' });
  await storeDeadLetters(stream, 150);
  // Gaps, as replays leave them: the listing skips them.
  const { state } = await jsm.streams.info(STREAMS.DLQ.name);
  for (const seq of [state.first_seq + 3, state.last_seq - 1]) await jsm.streams.deleteMessage(STREAMS.DLQ.name, seq, false);
  const data = createAdminData({
    jsm,
    publisher: createPublisher(jetstream(nc)),
    rpc: { call: async () => ({ ok: false, message: 'unused' }) as never },
    control: { jsm, serverVersion: nc.info?.version, pauses: () => new Kvm(nc).create(uniqueName('pauses')), by: 'console' },
  });
  const before = await allConsumers();
  // The server announces every consumer it creates, however briefly it lives.
  const created: string[] = [];
  const advisories = nc.subscribe('$JS.EVENT.ADVISORY.CONSUMER.CREATED.>', { callback: (_e, m) => void created.push(m.subject) });
  await nc.flush();

  for (let i = 0; i < 100; i++) {
    const all = (await listDeadLetters(jsm)).filter((d) => d.record.stream === stream);
    expect(all.map((d) => d.record.jobId)).toEqual(
      Array.from({ length: 150 }, (_, k) => `${stream}-${k + 1}`).filter((_, k) => k !== 3 && k !== 148),
    );
    const tail = await data.deadLetters(20);
    expect(tail.total).toBe(148);
    // Newest first, the deleted one skipped; secrets hidden.
    expect(tail.items.map((d) => d.record.jobId).slice(0, 3)).toEqual([`${stream}-150`, `${stream}-148`, `${stream}-147`]);
    expect(tail.items.every((d) => d.storedOn === `dlq.${stream}.test-worker` && !d.record.payload.includes('secret-token'))).toBe(true);
    const queues = await readQueues(jsm);
    expect(queues.find((q) => q.stream === STREAMS.DLQ.name)?.messages).toBe(148);
  }
  expect((await listDeadLetters(jsm, { limit: 10 })).map((d) => d.record.jobId)).toHaveLength(10);
  expect(await purgeDeadLetters(jsm, new Date(Date.now() + 60_000))).toBe(148);
  expect(await listDeadLetters(jsm)).toEqual([]);
  await nc.flush();
  advisories.unsubscribe();
  expect(created).toEqual([]);
  expect(await allConsumers()).toBe(before);
});
