/**
 * deploy/nats/current-server.sh against a real apt repository on disk: a flat repository holding
 * two versions of a nats-server package (the current binary repackaged), so fetching, choosing the
 * newest, reusing the cache and working offline are proven without the network. The global setup
 * of every test run exercises the same script against Debian itself.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { CURRENT_SERVER_SCRIPT, currentNatsServerBin, natsServerVersion } from '../../deploy/nats/nats-server-binary.ts';

let root: string;
let repo: string;
const arch = execFileSync('dpkg', ['--print-architecture'], { encoding: 'utf8' }).trim();

/** A .deb named nats-server at `version` whose /usr/sbin/nats-server is the given binary. */
const buildDeb = (binary: string, version: string): { file: string; bytes: Buffer } => {
  const tree = join(root, `pkg-${version}`);
  mkdirSync(join(tree, 'DEBIAN'), { recursive: true });
  mkdirSync(join(tree, 'usr', 'sbin'), { recursive: true });
  copyFileSync(binary, join(tree, 'usr', 'sbin', 'nats-server'));
  chmodSync(join(tree, 'usr', 'sbin', 'nats-server'), 0o755);
  writeFileSync(
    join(tree, 'DEBIAN', 'control'),
    `Package: nats-server\nVersion: ${version}\nArchitecture: ${arch}\nMaintainer: Handoff tests <tests@handoff.localhost>\nDescription: repackaged for the current-server.sh test\n`,
  );
  const file = `nats-server_${version}_${arch}.deb`;
  execFileSync('dpkg-deb', ['-Zgzip', '-z1', '--root-owner-group', '-b', tree, join(repo, file)], { stdio: 'ignore' });
  return { file, bytes: readFileSync(join(repo, file)) };
};

const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

/** Packages and an unsigned Release (the source line says trusted=yes) for a flat repository. */
const writeIndex = (debs: Array<{ file: string; bytes: Buffer; version: string }>) => {
  const packages = debs
    .map(
      (d) =>
        `Package: nats-server\nVersion: ${d.version}\nArchitecture: ${arch}\nMaintainer: Handoff tests <tests@handoff.localhost>\n` +
        `Filename: ./${d.file}\nSize: ${d.bytes.length}\nSHA256: ${sha256(d.bytes)}\nDescription: repackaged for the current-server.sh test\n`,
    )
    .join('\n');
  writeFileSync(join(repo, 'Packages'), packages);
  writeFileSync(
    join(repo, 'Release'),
    `Origin: handoff-tests\nLabel: handoff-tests\nDate: ${new Date().toUTCString()}\nSHA256:\n ${sha256(packages)} ${Buffer.byteLength(packages)} Packages\n`,
  );
};

const runScript = (cache: string, extra: Record<string, string> = {}) => {
  const run = spawnSync('bash', [CURRENT_SERVER_SCRIPT], {
    encoding: 'utf8',
    env: { ...process.env, NATS_CACHE_DIR: cache, NATS_SERVER_APT_SOURCE: `deb [trusted=yes] file:${repo} ./`, ...extra },
  });
  return { status: run.status, path: run.stdout.trim(), stdout: run.stdout, stderr: run.stderr };
};

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'handoff-current-server-'));
  repo = join(root, 'repo');
  mkdirSync(repo);
  const binary = currentNatsServerBin();
  writeIndex(['99.0.0-1', '99.1.0-1'].map((version) => ({ ...buildDeb(binary, version), version })));
});

afterAll(() => rmSync(root, { recursive: true, force: true }));

test('fetches the newest version the source offers into the cache and prints only its path', () => {
  const cache = join(root, 'cache-fetch');
  const run = runScript(cache);
  expect(run.status, run.stderr).toBe(0);
  expect(run.stdout).toBe(`${join(cache, '99.1.0-1', 'usr', 'sbin', 'nats-server')}\n`);
  expect(run.stderr).toContain('fetching nats-server 99.1.0-1');
  expect(natsServerVersion(run.path)).toBe(natsServerVersion(currentNatsServerBin()));
});

test('a second call reuses the cached binary without asking the source', () => {
  const cache = join(root, 'cache-reuse');
  const first = runScript(cache);
  expect(first.status, first.stderr).toBe(0);
  const before = statSync(first.path).mtimeMs;
  const again = runScript(cache, { NATS_SERVER_APT_SOURCE: 'deb [trusted=yes] file:/nonexistent/handoff-repo ./' });
  expect(again.status, again.stderr).toBe(0);
  expect(again.path).toBe(first.path);
  expect(again.stderr).toBe('');
  expect(statSync(again.path).mtimeMs).toBe(before);
});

test('offline, a due check falls back to the cached binary with a warning; with nothing cached it fails', () => {
  const cache = join(root, 'cache-offline');
  const first = runScript(cache);
  expect(first.status, first.stderr).toBe(0);
  const offline = { NATS_SERVER_APT_SOURCE: 'deb [trusted=yes] file:/nonexistent/handoff-repo ./', NATS_SERVER_REFRESH_HOURS: '0' };
  const fallback = runScript(cache, offline);
  expect(fallback.status, fallback.stderr).toBe(0);
  expect(fallback.path).toBe(first.path);
  expect(fallback.stderr).toMatch(/could not check for a newer nats-server.*using the cached/);

  const empty = runScript(join(root, 'cache-empty'), offline);
  expect(empty.status).not.toBe(0);
  expect(empty.stdout).toBe('');
  expect(empty.stderr).toContain('could not fetch nats-server');
});
