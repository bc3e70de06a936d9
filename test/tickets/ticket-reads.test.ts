/**
 * Ticket PDFs are read (downloads, attachments) without leaving anything on the server: the
 * object store client's getBlob creates a consumer per read, and 2.10+ servers refuse a stream's
 * 1,001st consumer, which stopped every tickets email in the long chaos soak on 2.15.1.
 */
import { randomBytes } from 'node:crypto';
import { jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { Objm, type ObjectStore } from '@nats-io/obj';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { OBJECT_STORES } from '#shared/contracts/buckets';
import { ensureObjectStore } from '#shared/nats/ensure';
import { createObjectReader, metaSubject } from '#shared/nats/object-reader';
import { startNatsServer, type NatsServer } from '../nats-server.ts';
import { uniqueName } from '../wait.ts';

let server: NatsServer;
let nc: NatsConnection;
let jsm: JetStreamManager;

beforeAll(async () => {
  server = await startNatsServer();
  nc = await connect({ servers: server.url });
  jsm = await jetstreamManager(nc);
});
afterAll(async () => {
  await nc?.close();
  await server?.stop();
});

/** A fresh store declared like the tickets store, under a name of its own. */
const ticketsStore = async (): Promise<{ name: string; store: ObjectStore }> => {
  const name = uniqueName('tickets').toLowerCase();
  return { name, store: await ensureObjectStore(nc, { ...OBJECT_STORES.tickets, name }, 1) };
};

const consumerCount = async (name: string) => (await jsm.streams.info(`OBJ_${name}`)).state.consumer_count;

/** Counts the get requests a store's stream receives: direct gets (any replica) and stream-leader gets. */
const countGets = async (name: string) => {
  const counts = { direct: 0, leader: 0 };
  const subs = [
    nc.subscribe(`$JS.API.DIRECT.GET.OBJ_${name}`, { callback: () => void counts.direct++ }),
    nc.subscribe(`$JS.API.DIRECT.GET.OBJ_${name}.>`, { callback: () => void counts.direct++ }),
    nc.subscribe(`$JS.API.STREAM.MSG.GET.OBJ_${name}`, { callback: () => void counts.leader++ }),
  ];
  await nc.flush();
  return { counts, stop: () => subs.forEach((sub) => sub.unsubscribe()) };
};

test('reads what was stored — empty, one chunk, many chunks, a replaced object — and null for deleted and unknown names', async () => {
  const { name, store } = await ticketsStore();
  const reader = createObjectReader(nc, { name });
  const one = randomBytes(40_000);
  const many = randomBytes(10_000);
  await store.putBlob({ name: 'empty.pdf' }, new Uint8Array());
  await store.putBlob({ name: 'one.pdf' }, one);
  await store.putBlob({ name: 'many.pdf', options: { max_chunk_size: 1_024 } }, many);
  await store.putBlob({ name: 'replaced.pdf' }, randomBytes(5_000));
  const replacement = randomBytes(3_000);
  await store.putBlob({ name: 'replaced.pdf', options: { max_chunk_size: 512 } }, replacement);
  await store.putBlob({ name: 'deleted.pdf' }, randomBytes(100));
  await store.delete('deleted.pdf');

  expect((await store.info('many.pdf'))?.chunks).toBe(10);

  const gets = await countGets(name);
  expect(await reader.get('empty.pdf')).toEqual(new Uint8Array());
  expect(Buffer.from((await reader.get('one.pdf'))!)).toEqual(one);
  expect(Buffer.from((await reader.get('many.pdf'))!)).toEqual(many);
  expect(Buffer.from((await reader.get('replaced.pdf'))!)).toEqual(replacement);
  expect(await reader.get('deleted.pdf')).toBeNull();
  expect(await reader.get('never-stored.pdf')).toBeNull();
  expect(await consumerCount(name)).toBe(0);
  gets.stop();
  // Direct gets found everything stored; only the misses (deleted, unknown) asked the leader again.
  expect(gets.counts.direct).toBeGreaterThanOrEqual(1 + 1 + 2 + 11 + 2 + 1 + 1);
  expect(gets.counts.leader).toBe(2);
});

test('an object whose bytes do not match its digest is refused, not served', async () => {
  const { name, store } = await ticketsStore();
  await store.putBlob({ name: 'ticket.pdf' }, randomBytes(2_000));
  const info = await store.info('ticket.pdf');
  // A meta naming the real chunks with another digest, as a corrupted store would hold.
  const forged = { name: 'ticket.pdf', bucket: name, nuid: info!.nuid, size: info!.size, chunks: info!.chunks, mtime: info!.mtime, digest: `SHA-256=${Buffer.alloc(32).toString('base64url')}=` };
  await jetstream(nc).publish(metaSubject(name, 'ticket.pdf'), JSON.stringify(forged));
  await expect(createObjectReader(nc, { name }).get('ticket.pdf')).rejects.toThrow(/corrupt/);
});

test('a store made without allow_direct is read through the stream leader, and its owner switches direct gets on', async () => {
  const { name, store } = await ticketsStore();
  const content = randomBytes(3_000);
  await store.putBlob({ name: 'ticket.pdf', options: { max_chunk_size: 1_000 } }, content);
  const { config } = await jsm.streams.info(`OBJ_${name}`);
  await jsm.streams.update(config.name, { ...config, allow_direct: false });

  const gets = await countGets(name);
  expect(Buffer.from((await createObjectReader(nc, { name }).get('ticket.pdf'))!)).toEqual(content);
  gets.stop();
  expect(gets.counts).toEqual({ direct: 0, leader: 1 + 3 });
  await ensureObjectStore(nc, { ...OBJECT_STORES.tickets, name }, 1);
  expect((await jsm.streams.info(`OBJ_${name}`)).config.allow_direct).toBe(true);
  expect(Buffer.from((await createObjectReader(nc, { name }).get('ticket.pdf'))!)).toEqual(content);
  expect(await consumerCount(name)).toBe(0);
});

test('5,000 ticket reads within a minute leave the stream’s consumer count flat (0 before, during and after)', async () => {
  const { name, store } = await ticketsStore();
  // Tickets of typical sizes; every fifth spans several chunks.
  const tickets = new Map<string, Buffer>();
  for (let i = 0; i < 50; i++) {
    const pdf = randomBytes(20_000 + i * 500);
    tickets.set(`ord_${i}/ticket-1.pdf`, pdf);
    await store.putBlob({ name: `ord_${i}/ticket-1.pdf`, options: i % 5 === 0 ? { max_chunk_size: 8_192 } : undefined }, pdf);
  }
  const names = [...tickets.keys()];
  const reader = createObjectReader(nc, { name });
  expect(await consumerCount(name)).toBe(0);
  // The server announces every consumer it creates, however briefly it lives.
  const created: string[] = [];
  const advisories = nc.subscribe(`$JS.EVENT.ADVISORY.CONSUMER.CREATED.OBJ_${name}.>`, { callback: (_e, m) => void created.push(m.subject) });
  await nc.flush();

  let reading = true;
  const seen: number[] = [];
  const watch = (async () => {
    while (reading) {
      seen.push(await consumerCount(name));
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  })();
  let next = 0;
  let reads = 0;
  // 40 readers at once, as the gateway's downloads and the mailer's attachments would be.
  await Promise.all(
    Array.from({ length: 40 }, async () => {
      while (next < 5_000) {
        const ticket = names[next++ % names.length]!;
        const pdf = await reader.get(ticket);
        expect(Buffer.from(pdf!).equals(tickets.get(ticket)!), ticket).toBe(true);
        reads++;
      }
    }),
  );
  reading = false;
  await watch;

  await nc.flush();
  advisories.unsubscribe();
  expect(reads).toBe(5_000);
  expect(seen.length).toBeGreaterThan(0);
  expect(Math.max(...seen)).toBe(0);
  expect(created).toEqual([]);
  expect(await consumerCount(name)).toBe(0);
}, 60_000);

test('the object store client’s getBlob, by contrast, leaves a consumer on the stream per read', async () => {
  const { name, store } = await ticketsStore();
  await store.putBlob({ name: 'ticket.pdf' }, randomBytes(1_000));
  const opened = await new Objm(nc).open(name);
  const created: string[] = [];
  const advisories = nc.subscribe(`$JS.EVENT.ADVISORY.CONSUMER.CREATED.OBJ_${name}.>`, { callback: (_e, m) => void created.push(m.subject) });
  await nc.flush();
  for (let i = 0; i < 5; i++) await opened.getBlob('ticket.pdf');
  await nc.flush();
  advisories.unsubscribe();
  expect(created).toHaveLength(5);
  expect(await consumerCount(name)).toBeGreaterThanOrEqual(5);
});
