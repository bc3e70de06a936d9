import { AckPolicy, jetstream, jetstreamManager, RetentionPolicy, type JetStreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, expect, test } from 'vitest';
import { ackPhantoms, keepsPhantomAcks, startPhantomAcks } from '#shared/jobs/phantom-acks';
import { startNatsServer, type NatsServer } from '../nats-server.ts';
import { isAlive } from '../process.ts';
import { quietLog } from '../runtime-setup.ts';
import { uniqueName, waitFor } from '../wait.ts';

// An ack-pending entry whose message the stream has deleted (a "phantom"): what a single server
// SIGKILLed between removing an acked work-queue message and writing its consumer's state leaves
// behind. Servers before 2.12.7 keep it for ever (terminated since nats-io/nats-server#7984, in
// 2.12.7 and 2.14.0); the runner acks such entries there (shared/jobs/phantom-acks.ts).
let server: NatsServer | undefined;
let nc: NatsConnection | undefined;

afterEach(async () => {
  await nc?.close();
  await server?.stop();
  nc = undefined;
  server = undefined;
});

const connectTo = async (s: NatsServer) => {
  nc = await connect({ servers: s.url, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
  return { nc, jsm: await jetstreamManager(nc), js: jetstream(nc) };
};

/** SIGTERM: the server writes every stream's and consumer's state before it exits. */
const shutDown = async (s: NatsServer) => {
  const pid = s.pid();
  if (pid === undefined) return;
  process.kill(pid, 'SIGTERM');
  await waitFor(() => !isAlive(pid), { timeoutMs: 20_000, what: 'nats-server to exit' });
};

const collect = async <T>(iterable: AsyncIterable<T>): Promise<T[]> => {
  const out: T[] = [];
  for await (const item of iterable) out.push(item);
  return out;
};

const ackPending = async (jsm: JetStreamManager, stream: string, consumer: string) => (await jsm.consumers.info(stream, consumer)).num_ack_pending;

/**
 * Builds the state a crash leaves, deterministically: the consumer's state file from while
 * message 2 was pending, the stream's from after its ack removed it.
 */
const phantomAfterRestart = async (s: NatsServer, stream: string, consumer: string) => {
  const first = await connectTo(s);
  const { jsm } = first;
  let { nc: conn, js } = first;
  await jsm.streams.add({ name: stream, subjects: [`${stream}.keep`, `${stream}.work`], retention: RetentionPolicy.Workqueue });
  await jsm.consumers.add(stream, { durable_name: consumer, filter_subject: `${stream}.work`, ack_policy: AckPolicy.Explicit, ack_wait: 1_000_000_000, max_deliver: 70 });
  // Sequence 1 stays (another consumer's work), so 2 is deleted from the middle of the stream.
  await js.publish(`${stream}.keep`, 'keep');
  await js.publish(`${stream}.work`, 'work');
  const c = await js.consumers.get(stream, consumer);
  const [pending] = await collect(await c.fetch({ max_messages: 1, expires: 2_000 }));
  expect(pending?.seq).toBe(2);
  await conn.close();
  await shutDown(s);
  const stateFile = join(s.storeDir, 'jetstream', '$G', 'streams', stream, 'obs', consumer, 'o.dat');
  const stale = `${stateFile}.while-pending`;
  copyFileSync(stateFile, stale);

  await s.restart();
  ({ nc: conn, js } = await connectTo(s));
  const again = await js.consumers.get(stream, consumer);
  // Redelivered after the restart (its ack-wait ran out); acked now, so the stream deletes it.
  const [redelivered] = await collect(await again.fetch({ max_messages: 1, expires: 5_000 }));
  expect(redelivered?.seq).toBe(2);
  await redelivered!.ackAck();
  await conn.close();
  await shutDown(s);
  copyFileSync(stale, stateFile);
  await s.restart();
  return connectTo(s);
};

test('a pending entry whose message is deleted: servers before 2.12.7 keep it through redeliveries and the runner acks it; newer servers drop it themselves', async () => {
  server = await startNatsServer();
  const stream = uniqueName('PH');
  const { jsm, js, nc: conn } = await phantomAfterRestart(server, stream, 'worker');
  const version = conn.info?.version;
  expect(await ackPending(jsm, stream, 'worker')).toBe(1);
  const info = await jsm.streams.info(stream, { deleted_details: true });
  expect(info.state.deleted).toEqual([2]);

  // A worker keeps pulling for three ack-waits: the entry's message cannot be redelivered.
  const c = await js.consumers.get(stream, 'worker');
  for (let i = 0; i < 3; i++) for await (const m of await c.fetch({ max_messages: 1, expires: 1_200 })) m.ack();

  if (keepsPhantomAcks(version)) {
    expect(await ackPending(jsm, stream, 'worker')).toBe(1);
    // What every runner of this consumer does on such a server (shared/jobs/workers.ts).
    const warnings: object[] = [];
    const log = { ...quietLog, warn: (o: object) => void warnings.push(o) };
    const stop = startPhantomAcks({ nc: conn, jsm, log, serverVersion: () => conn.info?.version }, { name: 'test.job', stream, consumer: 'worker', ackWaitMs: 1_000 }, 500);
    try {
      await waitFor(async () => (await ackPending(jsm, stream, 'worker')) === 0, { timeoutMs: 10_000, what: 'the phantom entry to be acked' });
    } finally {
      stop();
    }
    expect(warnings).toEqual([expect.objectContaining({ stream, consumer: 'worker', acked: 1 })]);
  } else {
    await waitFor(async () => (await ackPending(jsm, stream, 'worker')) === 0, { timeoutMs: 10_000, what: `${version} to drop the phantom entry` });
  }
  // The consumer works on, and the other consumer's message was never touched.
  await js.publish(`${stream}.work`, 'next');
  const [next] = await collect(await c.fetch({ max_messages: 1, expires: 5_000 }));
  expect(next?.seq).toBe(3);
  await next!.ackAck();
  expect((await jsm.streams.getMessage(stream, { seq: 1 }))?.string()).toBe('keep');
  expect(await ackPending(jsm, stream, 'worker')).toBe(0);
});

test('acking phantoms never touches a message that is stored or really pending, on any server', async () => {
  server = await startNatsServer();
  const { jsm, js, nc: conn } = await connectTo(server);
  const stream = uniqueName('PS');
  await jsm.streams.add({ name: stream, subjects: [`${stream}.>`], retention: RetentionPolicy.Workqueue });
  await jsm.consumers.add(stream, { durable_name: 'worker', filter_subject: `${stream}.work`, ack_policy: AckPolicy.Explicit, ack_wait: 30_000_000_000 });
  for (let i = 0; i < 6; i++) await js.publish(`${stream}.work`, `w${i}`);
  await js.publish(`${stream}.other`, 'other');
  const c = await js.consumers.get(stream, 'worker');
  const held = await collect(await c.fetch({ max_messages: 6, expires: 2_000 }));
  expect(held.map((m) => m.seq)).toEqual([1, 2, 3, 4, 5, 6]);
  // Two done (the stream deletes them from the middle), one deleted by an operator, three still worked on.
  await held[1]!.ackAck();
  await held[3]!.ackAck();
  await jsm.streams.deleteMessage(stream, 5);

  expect(await ackPhantoms({ nc: conn, jsm, log: quietLog }, { stream, consumer: 'worker' })).toBe(3);
  await conn.flush();
  const info = await jsm.consumers.info(stream, 'worker');
  expect(info.num_ack_pending).toBe(3);
  for (const seq of [1, 3, 6, 7]) expect(await jsm.streams.getMessage(stream, { seq }).then(Boolean)).toBe(true);
  // They are still the worker's to finish.
  for (const m of [held[0]!, held[2]!, held[5]!]) await m.ackAck();
  expect(await ackPending(jsm, stream, 'worker')).toBe(0);
});

test('which servers keep phantom entries', () => {
  const versions = ['2.9.10', '2.10.24', '2.10.29', '2.11.17', '2.12.6', '2.12.7', '2.14.0', '2.15.1', '3.0.0'];
  expect(versions.filter((v) => keepsPhantomAcks(v))).toEqual(['2.9.10', '2.10.24', '2.10.29', '2.11.17', '2.12.6']);
});
