import { expect, test } from 'vitest';
import { dispatch, parseArgs, UsageError, type CliContext, type Command } from '../dispatch.ts';

const context = () => {
  const out: string[] = [];
  const err: string[] = [];
  const ctx: CliContext = {
    nats: async () => {
      throw new Error('cannot reach NATS at nats://x');
    },
    out: (l) => out.push(l),
    err: (l) => err.push(l),
  };
  return { ctx, out, err };
};

const echo: Command = {
  path: ['users', 'add'],
  usage: 'users add EMAIL',
  summary: 'test',
  run: async (args) => {
    const { positional } = parseArgs(args, ['name']);
    if (positional.length !== 1) throw new UsageError('missing EMAIL');
    return 0;
  },
};
const needsNats: Command = { path: ['queues'], usage: 'queues', summary: 'test', run: async (_a, ctx) => (await ctx.nats(), 0) };

test('flags take values inline or as the next word; unknown flags and missing values are usage errors', () => {
  expect(parseArgs(['a@b.c', '--name', 'Ada L', '--x=1=2'], ['name', 'x'])).toEqual({ positional: ['a@b.c'], flags: { name: 'Ada L', x: '1=2' } });
  expect(() => parseArgs(['--nope', '1'], ['name'])).toThrow(/unknown option --nope/);
  expect(() => parseArgs(['--name'], ['name'])).toThrow(/--name needs a value/);
});

test('unknown commands and usage errors exit 2 with the usage; failures exit 1 with the message', async () => {
  const unknown = context();
  expect(await dispatch([echo, needsNats], ['frobnicate'], unknown.ctx)).toBe(2);
  expect(unknown.err.join('\n')).toMatch(/unknown command: frobnicate[\s\S]*users add EMAIL/);

  const usage = context();
  expect(await dispatch([echo], ['users', 'add'], usage.ctx)).toBe(2);
  expect(usage.err.join('\n')).toMatch(/missing EMAIL\nusage: npm run cli -- users add EMAIL/);

  const down = context();
  expect(await dispatch([echo, needsNats], ['queues'], down.ctx)).toBe(1);
  expect(down.err).toEqual(['error: cannot reach NATS at nats://x']);

  const ok = context();
  expect(await dispatch([echo], ['users', 'add', 'a@b.c'], ok.ctx)).toBe(0);
});
