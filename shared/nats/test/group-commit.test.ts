import { headers } from '@nats-io/transport-node';
import { afterEach, expect, test, vi } from 'vitest';
import { createGroupCommit, parsePubAck, type GroupCommitTransport, type ReplyMsg } from '../group-commit.ts';

const encode = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));

/** A fake connection: records every publish; `answer` replies on a message's reply subject. */
const fakeNats = () => {
  const sent: Array<{ subject: string; data: Uint8Array; reply: string; msgId?: string; turn: number }> = [];
  let callback: ((error: Error | null, msg: ReplyMsg) => void) | undefined;
  let turn = 0;
  const tick = () => turn++;
  const nc: GroupCommitTransport = {
    publish(subject, data, options) {
      sent.push({ subject, data, reply: options.reply, msgId: options.headers?.get('Nats-Msg-Id') || undefined, turn });
    },
    subscribe(_subject, options) {
      callback = options.callback;
      return { unsubscribe: () => (callback = undefined) };
    },
  };
  const answer = (index: number, reply: unknown) => callback?.(null, { subject: sent[index]!.reply, data: reply === undefined ? new Uint8Array() : encode(reply) });
  return { nc, sent, answer, tick };
};
const flushed = () => new Promise((resolve) => setImmediate(resolve));

afterEach(() => vi.useRealTimers());

test('sends of one event-loop turn are written together, each answered with its own PubAck', async () => {
  const { nc, sent, answer, tick } = fakeNats();
  const gc = createGroupCommit(nc, { inboxPrefix: '_INBOX_gateway' });
  const acks = [0, 1, 2].map((i) => gc.send('auth.magic_link.requested', encode({ i }), { msgID: `job-${i}`, headers: headers() }));
  expect(sent).toHaveLength(0); // gathered, not yet written
  await flushed();
  tick();
  expect(sent).toHaveLength(3);
  expect(new Set(sent.map((s) => s.turn)).size).toBe(1);
  expect(sent.map((s) => s.msgId)).toEqual(['job-0', 'job-1', 'job-2']);
  expect(sent.every((s) => s.reply.startsWith('_INBOX_gateway.'))).toBe(true);
  expect(new Set(sent.map((s) => s.reply)).size).toBe(3);

  // PubAcks may come back in any order; each caller gets its own.
  answer(2, { stream: 'AUTH', seq: 12 });
  answer(0, { stream: 'AUTH', seq: 10 });
  answer(1, { stream: 'AUTH', seq: 11, duplicate: true });
  expect(await Promise.all(acks)).toEqual([
    { stream: 'AUTH', seq: 10, duplicate: false },
    { stream: 'AUTH', seq: 11, duplicate: true },
    { stream: 'AUTH', seq: 12, duplicate: false },
  ]);

  // The next turn is a new group.
  const later = gc.send('auth.magic_link.requested', encode({ i: 3 }));
  await flushed();
  expect(sent).toHaveLength(4);
  expect(sent[3]!.turn).toBe(1);
  answer(3, { stream: 'AUTH', seq: 13 });
  await expect(later).resolves.toMatchObject({ seq: 13 });
});

test('one refused message fails alone: its neighbours in the group are still acknowledged', async () => {
  const { nc, answer } = fakeNats();
  const gc = createGroupCommit(nc, { inboxPrefix: '_INBOX_x' });
  const a = gc.send('s', encode(1));
  const b = gc.send('s', encode(2));
  const c = gc.send('s', encode(3));
  await flushed();
  answer(0, { stream: 'AUTH', seq: 1 });
  answer(1, { error: { code: 503, err_code: 10077, description: 'maximum messages exceeded' } });
  answer(2, undefined); // the 503 no-responders status: no stream on the subject
  await expect(a).resolves.toMatchObject({ seq: 1 });
  await expect(b).rejects.toThrow(/maximum messages exceeded/);
  await expect(c).rejects.toThrow(/no stream/);
});

test('what gets no PubAck within the timeout fails, and a late PubAck changes nothing', async () => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
  const { nc, answer } = fakeNats();
  const gc = createGroupCommit(nc, { inboxPrefix: '_INBOX_x', timeoutMs: 1_000 });
  const a = gc.send('s', encode(1));
  const b = gc.send('s', encode(2));
  await flushed();
  answer(0, { stream: 'AUTH', seq: 1 });
  const failed = expect(b).rejects.toThrow(/no PubAck within 1000 ms/);
  vi.advanceTimersByTime(1_000);
  await failed;
  await expect(a).resolves.toMatchObject({ seq: 1 });
  answer(1, { stream: 'AUTH', seq: 2 }); // too late: ignored
});

test('a full group is written at once without waiting for the turn to end', () => {
  const { nc, sent } = fakeNats();
  const gc = createGroupCommit(nc, { inboxPrefix: '_INBOX_x', maxGroup: 2 });
  void gc.send('s', encode(1)).catch(() => undefined);
  expect(sent).toHaveLength(0);
  void gc.send('s', encode(2)).catch(() => undefined);
  expect(sent).toHaveLength(2);
  gc.close();
});

test('close fails what is waiting, gathered or sent, and refuses new sends', async () => {
  const { nc } = fakeNats();
  const gc = createGroupCommit(nc, { inboxPrefix: '_INBOX_x' });
  const sentOne = gc.send('s', encode(1));
  await flushed();
  const gathered = gc.send('s', encode(2));
  gc.close();
  await expect(sentOne).rejects.toThrow(/closed/);
  await expect(gathered).rejects.toThrow(/closed/);
  await expect(gc.send('s', encode(3))).rejects.toThrow(/closed/);
});

test('a PubAck without stream and sequence is not taken for a success', () => {
  expect(parsePubAck(encode({ ok: true }))).toBeInstanceOf(Error);
  expect(parsePubAck(new TextEncoder().encode('not json'))).toBeInstanceOf(Error);
  expect(parsePubAck(encode({ stream: 'AUTH', seq: 3, domain: 'hub' }))).toEqual({ stream: 'AUTH', seq: 3, duplicate: false, domain: 'hub' });
});
