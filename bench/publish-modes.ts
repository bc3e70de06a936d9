/**
 * How to store many small jobs at once, measured in one process against a fresh nats-server (the
 * figures behind shared/nats/group-commit.ts; see bench/README.md):
 *   node --import tsx bench/publish-modes.ts            (NATS_SERVER_BIN, else the current server)
 *   GROUP=20 BIN=/usr/sbin/nats-server node --import tsx bench/publish-modes.ts
 * Modes: `js.publish` per message, GROUP at a time concurrently; the group commit (core publishes
 * with one reply subscription); and the atomic batch publish of 2.12+ (`allow_atomic`).
 */
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, headers } from '@nats-io/transport-node';
import { createGroupCommit } from '#shared/nats/group-commit';
import { atLeast, FEATURE_SINCE } from '#shared/nats/server-features';
import { startNatsServer } from '../test/nats-server.ts';

const server = await startNatsServer({ binary: process.env.BIN });
const nc = await connect({ servers: server.url, noAsyncTraces: true, inboxPrefix: '_INBOX_bench' });
const jsm = await jetstreamManager(nc);
const atomic = atLeast(nc.info?.version ?? '0.0.0', FEATURE_SINCE.atomicBatch);
await jsm.streams.add({ name: 'MODES', subjects: ['modes.>'], ...(atomic ? { allow_atomic: true } : {}) } as never);
const js = jetstream(nc);
const gc = createGroupCommit(nc, { inboxPrefix: '_INBOX_bench' });
const data = new TextEncoder().encode(JSON.stringify({ v: 1, email: 'someone-123456@example.com', network: '10.0.0.0/24', requestedAt: new Date().toISOString() }));
const TOTAL = 30_000;
const GROUP = Number(process.env.GROUP ?? 100);
const jobHeaders = () => {
  const h = headers();
  h.set('Handoff-Job-Id', crypto.randomUUID());
  return h;
};
const time = async (label: string, group: () => Promise<unknown>) => {
  const started = performance.now();
  for (let i = 0; i < TOTAL / GROUP; i++) await group();
  console.log(`${label}: ${Math.round((TOTAL / (performance.now() - started)) * 1000)} msg/s`);
};
const all = (one: () => Promise<unknown>) => () => Promise.all(Array.from({ length: GROUP }, one));

console.log(`nats-server ${nc.info?.version}, ${TOTAL} messages in groups of ${GROUP}; the second pass is the warm one`);
for (let pass = 1; pass <= 2; pass++) {
  await time('js.publish, concurrent', all(() => js.publish('modes.a', data, { msgID: crypto.randomUUID(), headers: jobHeaders() })));
  await time('group commit', all(() => gc.send('modes.a', data, { msgID: crypto.randomUUID(), headers: jobHeaders() })));
  if (atomic) {
    await time('atomic batch', async () => {
      const batch = await js.startBatch('modes.a', data, { headers: jobHeaders() });
      for (let i = 1; i < GROUP - 1; i++) batch.add('modes.a', data, { headers: jobHeaders() });
      await batch.commit('modes.a', data);
    });
  }
}
gc.close();
await nc.close();
await server.stop();
