import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { runCli } from '../magic-link/helpers.ts';
import { isAlive, startProcess, type RunningProcess } from '../process.ts';
import { waitFor } from '../wait.ts';
import { freePort, freeRun, startLauncher } from './launcher.ts';

// `npm start` exactly as a newcomer runs it (node --import tsx deploy/local/start.ts), with nothing
// listening at NATS_URL and no SMTP_URL, then `npm run demo` against it, then Ctrl-C (SIGINT).
const GRACE_MS = 5_000;
const dataDir = mkdtempSync(join(tmpdir(), 'handoff-start-'));
const launchers: RunningProcess[] = [];

const ports = { nats: 0, gateway: 0, webhook: 0, console: 0, inbox: 0, smtp: 0, payments: 0, workers: 0 };
const startEnv = () => ({
  NATS_URL: `nats://127.0.0.1:${ports.nats}`,
  DATA_DIR: dataDir,
  GATEWAY_PORT: String(ports.gateway),
  WEBHOOK_PORT: String(ports.webhook),
  CONSOLE_PORT: String(ports.console),
  INBOX_PORT: String(ports.inbox),
  INBOX_SMTP_PORT: String(ports.smtp),
  PAYMENTS_PORT: String(ports.payments),
  PAYMENT_CHECKOUT_URL: undefined,
  WORKER_HEALTH_PORT: String(ports.workers),
  SHUTDOWN_GRACE_MS: String(GRACE_MS),
  LOG_LEVEL: 'warn',
  SMTP_URL: undefined,
  WEBHOOK_SECRET: undefined,
  ADMIN_TOKEN: undefined,
  PUBLIC_URL: undefined,
  APP_URL: undefined,
});

const start = async () => {
  const started = await startLauncher(startEnv());
  launchers.push(started.launcher);
  return started;
};

/** The launcher and everything under it (services, nats-server, ticketing's render processes). */
const processTree = (root: number): number[] => {
  const table = execFileSync('ps', ['-A', '-o', 'pid=,ppid='], { encoding: 'utf8' })
    .trim()
    .split('\n')
    .map((l) => l.trim().split(/\s+/).map(Number) as [number, number]);
  const tree = [root];
  for (let i = 0; i < tree.length; i++) for (const [pid, ppid] of table) if (ppid === tree[i]) tree.push(pid);
  return tree;
};

/** SIGINT, as Ctrl-C; every process of the tree must be gone within the grace period (plus start-up slack). */
const interrupt = async (launcher: RunningProcess) => {
  const tree = processTree(launcher.pid);
  launcher.child.kill('SIGINT');
  const code = await waitFor(() => launcher.child.exitCode ?? undefined, { timeoutMs: GRACE_MS + 5_000, what: 'the launcher to exit after SIGINT' });
  await waitFor(() => tree.every((pid) => !isAlive(pid)) || undefined, { timeoutMs: 2_000, what: `every process of ${tree.join(', ')} to exit` });
  return { code, tree };
};

afterAll(async () => {
  for (const l of launchers) await l.kill('SIGKILL');
  rmSync(dataDir, { recursive: true, force: true });
});

const keptEmail = `kept.${Date.now().toString(36)}@example.test`;

test('npm start with nothing at NATS_URL runs the whole system; the demo passes; SIGINT stops every process', async () => {
  Object.assign(ports, { nats: await freePort(), gateway: await freePort(), webhook: await freePort(), console: await freePort(), inbox: await freePort(), smtp: await freePort(), payments: await freePort(), workers: await freeRun() });
  const { launcher, ready } = await start();
  expect(launcher.output()).toContain(`no NATS server at nats://127.0.0.1:${ports.nats}: starting one`);
  // The server under test (the current one unless NATS_SERVER_BIN names another), never a stray install.
  expect(launcher.output()).toContain(`nats: starting nats-server ${process.env.NATS_SERVER_VERSION} (${process.env.NATS_SERVER_BIN})`);
  expect(ready).toMatchObject({ gateway: `http://localhost:${ports.gateway}`, inbox: `http://127.0.0.1:${ports.inbox}`, payments: `http://127.0.0.1:${ports.payments}/checkout`, nats: `nats://127.0.0.1:${ports.nats}` });
  expect(Object.keys(ready.pids).sort()).toEqual(['auth', 'console', 'gateway', 'mailer', 'nats-server', 'ticketing', 'webhook-ingest']);
  // The console is on its own port (npm start makes an ADMIN_TOKEN) and refuses a visitor without
  // it; the public gateway has no operator routes at all.
  expect(ready.console).toBe(`http://localhost:${ports.console}`);
  expect((await fetch(`http://127.0.0.1:${ports.console}/`)).status).toBe(401);
  expect((await fetch(`http://127.0.0.1:${ports.gateway}/admin`)).status).toBe(404);
  const added = await runCli(['users', 'add', keptEmail, '--name', 'Kept Across Restarts'], { NATS_URL: ready.nats });
  expect(added.output).toMatch(/^added user/);

  const demo = startProcess('deploy/local/demo.ts', {
    env: {
      GATEWAY_URL: `http://127.0.0.1:${ports.gateway}`,
      INBOX_URL: ready.inbox,
      NATS_URL: ready.nats,
      DEMO_TIMEOUT_MS: '60000',
    },
    name: 'demo',
  });
  const demoCode = await demo.exited;

  // Checked after SIGINT so a failing demo still shows whether shutdown works.
  const { code, tree } = await interrupt(launcher);
  expect(code).toBe(0);
  expect(tree.length).toBeGreaterThanOrEqual(8);
  expect(launcher.output()).toMatch(/\[start\] stopped/);
  expect(demoCode, `demo output:\n${demo.output()}\nlauncher output (tail):\n${launcher.output().slice(-4000)}`).toBe(0);
  expect(demo.output()).toMatch(/demo complete in \d+ ms/);
  // The buyer paid on the dev provider's checkout and watched the order's live view to the end.
  expect(demo.output()).toMatch(/press Pay .* ok .* 303 back to http:\/\/localhost:\d+\/my\/orders\/ord_/);
  expect(demo.output()).toMatch(/the live view, pushed as it happened … ok .* — pending_payment → paid → .*generating 3\/3 → .*sent\n/);
});

test('a second npm start on the same DATA_DIR finds the user the first one stored, and keeps its dev secrets 0600', async () => {
  // Loosened meanwhile (a copy, an editor): the next start makes it owner-only again.
  const secrets = join(dataDir, 'dev-secrets.json');
  expect(statSync(secrets).mode & 0o777).toBe(0o600);
  chmodSync(secrets, 0o644);
  const { launcher, ready } = await start();
  expect(statSync(secrets).mode & 0o777).toBe(0o600);
  expect(launcher.output()).toContain('starting one');
  const again = await runCli(['users', 'add', keptEmail], { NATS_URL: ready.nats });
  expect(again.code, again.output).toBe(0);
  expect(again.output).toMatch(/already exists; nothing changed/);
  expect((await interrupt(launcher)).code).toBe(0);
});
