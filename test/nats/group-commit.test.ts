import { DiscardPolicy, jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createGroupCommit, type GroupCommit } from '#shared/nats/group-commit';
import { createPublisher, type Publisher } from '#shared/nats/publish';
import { serversUnderTest, startNatsServer, type NatsServer } from '../nats-server.ts';

describe.each(serversUnderTest())('group commit on $label', ({ binary }) => {
  let nats: NatsServer;
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  let gc: GroupCommit;
  let publisher: Publisher;

  beforeAll(async () => {
    nats = await startNatsServer({ binary });
    nc = await connect({ servers: nats.url, inboxPrefix: '_INBOX_gctest' });
    jsm = await jetstreamManager(nc);
    gc = createGroupCommit(nc, { inboxPrefix: '_INBOX_gctest', timeoutMs: 2_000 });
    publisher = createPublisher(jetstream(nc), { send: gc.send });
  });

  afterAll(async () => {
    gc?.close();
    await nc?.close();
    await nats?.stop();
  });

  test('200 concurrent publishes are each answered with their own stored sequence', async () => {
    await jsm.streams.add({ name: 'GC_MANY', subjects: ['gc.many.>'] });
    const acks = await Promise.all(Array.from({ length: 200 }, (_, i) => publisher.publish(`gc.many.${i}`, { i })));
    expect(new Set(acks.map((a) => a.seq)).size).toBe(200);
    expect(acks.every((a) => a.stream === 'GC_MANY' && !a.duplicate)).toBe(true);
    expect((await jsm.streams.info('GC_MANY')).state.messages).toBe(200);
    // Each ack names its own message: the stored payload at its sequence is the one sent.
    const stored = await jsm.streams.getMessage('GC_MANY', { seq: acks[137]!.seq });
    expect(stored?.json()).toEqual({ i: 137 });
  });

  test('a retried id is acknowledged as a duplicate and stored once', async () => {
    await jsm.streams.add({ name: 'GC_DEDUPE', subjects: ['gc.dedupe'] });
    const [first, again] = await Promise.all([publisher.publish('gc.dedupe', { n: 1 }, { id: 'job-1' }), publisher.publish('gc.dedupe', { n: 1 }, { id: 'job-1' })]);
    expect([first!.duplicate, again!.duplicate].sort()).toEqual([false, true]);
    expect((await jsm.streams.info('GC_DEDUPE')).state.messages).toBe(1);
  });

  test('a refused message fails alone, and a subject without a stream fails clearly', async () => {
    await jsm.streams.add({ name: 'GC_FULL', subjects: ['gc.full'], max_msgs: 3, discard: DiscardPolicy.New });
    const results = await Promise.allSettled(Array.from({ length: 5 }, (_, i) => publisher.publish('gc.full', { i })));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(3);
    expect(results.filter((r) => r.status === 'rejected').map((r) => String((r as PromiseRejectedResult).reason))).toEqual([
      expect.stringMatching(/maximum messages/i),
      expect.stringMatching(/maximum messages/i),
    ]);
    await expect(publisher.publish('gc.nowhere', { lost: false })).rejects.toThrow(/no stream/);
  });
});
