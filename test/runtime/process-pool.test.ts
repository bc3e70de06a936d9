import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, expect, test } from 'vitest';
import { createProcessPool, type ProcessPool } from '#shared/process-pool/pool';
import { waitFor } from '../wait.ts';

const work = fileURLToPath(new URL('../fixtures/pool-work.ts', import.meta.url));
const pools: Array<ProcessPool<{ ms: number; marker?: string }, number>> = [];
const pool = (size: number) => {
  const p = createProcessPool<{ ms: number; marker?: string }, number>({ module: work, size, execArgv: ['--import', 'tsx'] });
  pools.push(p);
  return p;
};
afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.close()));
});

test('concurrent jobs each get a process of their own, up to the pool size', async () => {
  const p = pool(2);
  await p.run({ ms: 0 }, new AbortController().signal); // one warm child, one not yet started
  const pids = await Promise.all([p.run({ ms: 300 }, new AbortController().signal), p.run({ ms: 300 }, new AbortController().signal)]);
  expect(new Set(pids).size).toBe(2);
});

test('an aborted job kills its process, and a waiting job runs in a fresh one', async () => {
  const p = pool(1);
  const a = new AbortController();
  const first = p.run({ ms: 60_000 }, a.signal);
  await waitFor(() => p.pids().length === 1);
  const [killed] = p.pids();
  const second = p.run({ ms: 10 }, new AbortController().signal);
  a.abort(new Error('timeout'));
  await expect(first).rejects.toThrow('timeout');
  const pid = await second;
  expect(pid).not.toBe(killed);
});

test('a job aborted while it waits for a process never runs', async () => {
  const p = pool(1);
  const busy = p.run({ ms: 500 }, new AbortController().signal);
  const marker = join(mkdtempSync(join(tmpdir(), 'pool-')), 'ran');
  const a = new AbortController();
  const waiting = p.run({ ms: 0, marker }, a.signal);
  a.abort(new Error('timed out while queued'));
  await expect(waiting).rejects.toThrow('timed out while queued');
  await busy;
  expect(existsSync(marker)).toBe(false);
});

test('a warm pool starts its children before any work and replaces a killed one at once', async () => {
  const p = createProcessPool<{ ms: number; marker?: string }, number>({ module: work, size: 2, execArgv: ['--import', 'tsx'], warm: true });
  pools.push(p);
  await waitFor(() => p.pids().length === 2 || undefined, { what: 'two children started before any job' });
  const a = new AbortController();
  const hung = p.run({ ms: 60_000 }, a.signal);
  await new Promise((resolve) => setTimeout(resolve, 100));
  const before = p.pids();
  a.abort(new Error('timeout'));
  await expect(hung).rejects.toThrow('timeout');
  // Without another run: the killed child's replacement is already starting.
  await waitFor(() => (p.pids().length === 2 && p.pids().some((pid) => !before.includes(pid))) || undefined, { what: 'a replacement child' });
  expect(new Set(await Promise.all([p.run({ ms: 50 }, new AbortController().signal), p.run({ ms: 50 }, new AbortController().signal)])).size).toBe(2);
});

test('V8 flags reach the children only, after the inherited node flags', async () => {
  const p = createProcessPool<{ ms: number; marker?: string }, number>({ module: work, size: 1, execArgv: ['--import', 'tsx'], v8Flags: ['--max-semi-space-size=2'] });
  pools.push(p);
  const pid = await p.run({ ms: 1 }, new AbortController().signal);
  const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  expect(argv).toEqual(expect.arrayContaining(['--import', 'tsx', '--max-semi-space-size=2']));
  expect(argv.indexOf('--max-semi-space-size=2')).toBeGreaterThan(argv.indexOf('tsx'));
  expect(process.execArgv).not.toContain('--max-semi-space-size=2');
});
