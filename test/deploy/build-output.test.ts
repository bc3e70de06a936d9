/**
 * Acceptance 4: the container's start command works outside a container. The build is the
 * Dockerfile's (`tsc -p tsconfig.build.json`), emitted into a temp dir laid out like the image's
 * /app (package.json for "type": "module", node_modules, dist/), and a service is started from it
 * with plain `node` — no tsx loader, no TypeScript at runtime.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startNatsServer, type NatsServer } from '../nats-server.ts';
import { freePort, repoRoot } from '../process.ts';
import { waitFor } from '../wait.ts';

let app: string;
let server: NatsServer;
const children: ChildProcess[] = [];


/** Runs the image's command, `node dist/services/launch.js <args>`, from the built app dir. */
const launch = (args: string[], env: Record<string, string> = {}) => {
  // A clean environment: only what a container would get, so nothing leaks in from the test run
  // (NODE_OPTIONS with a tsx loader, for one).
  const child = spawn(process.execPath, ['dist/services/launch.js', ...args], {
    cwd: app,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', NODE_ENV: 'production', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let output = '';
  child.stdout?.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (output += c.toString()));
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')));
  return { child, exited, output: () => output };
};

const walk = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? walk(join(dir, entry.name)) : [join(dir, entry.name)],
  );

beforeAll(async () => {
  app = mkdtempSync(join(tmpdir(), 'handoff-build-'));
  copyFileSync(join(repoRoot, 'package.json'), join(app, 'package.json'));
  symlinkSync(join(repoRoot, 'node_modules'), join(app, 'node_modules'), 'dir');
  const tsc = spawnSync(
    process.execPath,
    [join(repoRoot, 'node_modules/typescript/bin/tsc'), '-p', join(repoRoot, 'tsconfig.build.json'), '--outDir', join(app, 'dist')],
    { cwd: repoRoot, encoding: 'utf8' },
  );
  if (tsc.status !== 0) throw new Error(`build failed:\n${tsc.stdout}${tsc.stderr}`);
  // The build's second step (package.json `build`): the compiled tree's own package.json maps
  // `#shared/*` onto the emitted JavaScript.
  copyFileSync(join(repoRoot, 'deploy/dist-package.json'), join(app, 'dist/package.json'));
  server = await startNatsServer();
  // A whole tsc build: 20-30 s on a quiet machine, several times that beside the rest of the suite.
}, 300_000);

afterAll(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await server?.stop();
  if (app) rmSync(app, { recursive: true, force: true });
});

test('the build emits JavaScript only, including the process-pool host that is forked at runtime', () => {
  const files = walk(join(app, 'dist'));
  expect(files).toContain(join(app, 'dist/services/launch.js'));
  expect(files).toContain(join(app, 'dist/shared/process-pool/host.js'));
  expect(files.filter((f) => f.endsWith('.ts'))).toEqual([]);
  expect(files.some((f) => /[/\\]test[/\\]/.test(f.slice(app.length)))).toBe(false);
  // Relative imports were rewritten to .js and shared code is imported by its `#shared/...` alias
  // without an extension: plain node cannot load a .ts specifier.
  const tsImports = files
    .filter((f) => f.endsWith('.js'))
    .filter((f) => /from\s+['"](\.{1,2}\/|#)[^'"]+\.ts['"]/.test(readFileSync(f, 'utf8')));
  expect(tsImports).toEqual([]);
  expect(JSON.parse(readFileSync(join(app, 'dist/package.json'), 'utf8'))).toEqual({ type: 'module', imports: { '#shared/*': './shared/*.js' } });
});

test('the Dockerfile builds the way this test does and starts services the way this test does', () => {
  const dockerfile = readFileSync(join(repoRoot, 'Dockerfile'), 'utf8');
  const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  expect(pkg.scripts.build).toBe('tsc -p tsconfig.build.json && cp deploy/dist-package.json dist/package.json');
  expect(dockerfile).toMatch(/^COPY deploy\/dist-package.json /m);
  expect(dockerfile).toMatch(/^RUN npm ci\b/m);
  expect(dockerfile).toMatch(/^RUN npm run build$/m);
  const stages = dockerfile.split(/^FROM /m).slice(1);
  const runtime = (stages.at(-1) ?? '')
    .split('\n')
    .filter((line) => !line.trimStart().startsWith('#'))
    .join('\n');
  // The runtime stage: production dependencies, compiled output, an unprivileged user, plain node.
  expect(dockerfile).toMatch(/npm ci --omit=dev/);
  expect(runtime).toMatch(/COPY --from=\S+ .*\/app\/node_modules/);
  expect(runtime).toMatch(/COPY --from=build .*\/app\/dist/);
  expect(runtime).toMatch(/^USER [1-9]\d*(:[1-9]\d*)?$/m);
  expect(runtime).toMatch(/^ENTRYPOINT \["node", "dist\/services\/launch\.js"\]$/m);
  expect(runtime).not.toMatch(/tsx/);
});

test('the launcher refuses an unknown service with its usage and exit code 2', async () => {
  const run = launch(['no-such-service']);
  expect(await run.exited).toBe(2);
  expect(run.output()).toMatch(/usage: .*gateway\|webhook-ingest\|auth\|ticketing\|mailer/);
});

test('the mailer starts from the compiled output with plain node, becomes ready and exits 0 on SIGTERM', async () => {
  expect(existsSync(join(app, 'dist/services/mailer/src/main.js'))).toBe(true);
  const healthPort = await freePort();
  const smtpPort = await freePort(); // nothing listens: mail is sent only when a job arrives
  const run = launch(['mailer'], {
    NATS_URL: server.url,
    JS_REPLICAS: '1',
    HEALTH_PORT: String(healthPort),
    SMTP_URL: `smtp://127.0.0.1:${smtpPort}`,
    MAIL_FROM: 'Handoff <tickets@example.test>',
    PUBLIC_URL: 'http://127.0.0.1:3000',
    SHUTDOWN_GRACE_MS: '2000',
  });
  let code: number | string | undefined;
  void run.exited.then((c) => (code = c));
  const health = (path: string) => fetch(`http://127.0.0.1:${healthPort}${path}`).then((r) => r.status).catch(() => 0);
  await waitFor(
    async () => {
      if (code !== undefined) throw new Error(`mailer exited ${code}:\n${run.output()}`);
      return (await health('/readyz')) === 200;
    },
    { timeoutMs: 30_000, what: `mailer /readyz on ${healthPort}` },
  );
  expect(await health('/healthz')).toBe(200);

  run.child.kill('SIGTERM');
  expect(await run.exited).toBe(0);
});

test('the gateway starts from the compiled output, serves the buyer page and its script, and exits 0 on SIGTERM', async () => {
  // The page's script is plain JavaScript the build emits (allowJs, as a module); the gateway reads it at start.
  expect(existsSync(join(app, 'dist/services/gateway/src/page/assets/buyer.js'))).toBe(true);
  const port = await freePort();
  const run = launch(['gateway'], { NATS_URL: server.url, JS_REPLICAS: '1', HEALTH_PORT: '0', GATEWAY_PORT: String(port), GATEWAY_HOST: '127.0.0.1', SHUTDOWN_GRACE_MS: '2000' });
  let code: number | string | undefined;
  void run.exited.then((c) => (code = c));
  const page = await waitFor(
    async () => {
      if (code !== undefined) throw new Error(`gateway exited ${code}:\n${run.output()}`);
      const res = await fetch(`http://127.0.0.1:${port}/`).catch(() => undefined);
      return res?.status === 200 ? res.text() : undefined;
    },
    { timeoutMs: 30_000, what: `the buyer page on ${port}` },
  );
  const script = /<script type="module" src="([^"]+)">/.exec(page)?.[1];
  expect(script).toMatch(/^\/assets\/buyer-[0-9a-f]{12}\.js$/);
  const served = await fetch(`http://127.0.0.1:${port}${script}`);
  expect(served.status).toBe(200);
  expect(await served.text()).toContain('/events');

  run.child.kill('SIGTERM');
  expect(await run.exited).toBe(0);
});
