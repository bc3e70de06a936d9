/**
 * `npm start`: the whole system on one machine. Uses NATS_URL when a server answers there, else
 * starts one with its store under DATA_DIR; starts a dev SMTP inbox when SMTP_URL is unset; runs
 * the five services as separate processes with prefixed logs; Ctrl-C drains everything.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { parseEnv, intFromEnv } from '../../shared/config/env.ts';
import { startDevInbox, type DevInbox } from './dev-inbox.ts';
import { natsAnswers, startLocalNats } from './local-nats.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const SERVICES = ['auth', 'mailer', 'ticketing', 'webhook-ingest', 'gateway'] as const;

const config = parseEnv(
  z.object({
    NATS_URL: z.string().default('nats://127.0.0.1:4222'),
    SMTP_URL: z.string().optional(),
    DATA_DIR: z.string().default(join(root, '.data')),
    GATEWAY_PORT: intFromEnv(3000),
    WEBHOOK_PORT: intFromEnv(3001),
    INBOX_PORT: intFromEnv(8025),
    INBOX_SMTP_PORT: intFromEnv(2525),
    /** First of three health/metrics ports for the workers (auth, mailer, ticketing). */
    WORKER_HEALTH_PORT: intFromEnv(3101),
    SHUTDOWN_GRACE_MS: intFromEnv(10_000),
    PUBLIC_URL: z.string().optional(),
  }),
  process.env,
);

const say = (line: string) => process.stdout.write(`[start] ${line}\n`);
const dataDir = resolve(config.DATA_DIR);
mkdirSync(dataDir, { recursive: true });

/** Development secrets, made once and kept under the data dir so restarts keep sessions and links valid. */
const devSecrets = (): { WEBHOOK_SECRET: string; ADMIN_TOKEN: string } => {
  const file = join(dataDir, 'dev-secrets.json');
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as { WEBHOOK_SECRET: string; ADMIN_TOKEN: string };
  const secrets = { WEBHOOK_SECRET: `whsec_${randomBytes(32).toString('base64')}`, ADMIN_TOKEN: randomBytes(24).toString('base64url') };
  writeFileSync(file, JSON.stringify(secrets, null, 2), { mode: 0o600 });
  return secrets;
};

const children: Array<{ name: string; child: ChildProcess }> = [];
let natsChild: ChildProcess | undefined;
let inbox: DevInbox | undefined;
let stopping = false;

const prefixLines = (name: string, child: ChildProcess) => {
  const pad = name.padEnd(14);
  let ready: () => void = () => undefined;
  const readyPromise = new Promise<void>((r) => (ready = r));
  for (const stream of [child.stdout, child.stderr]) {
    let buffer = '';
    stream?.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      const lines = buffer.split('\n');
      buffer = lines.pop() ?? '';
      for (const line of lines) {
        if (line.includes('"msg":"service ready"')) ready();
        process.stdout.write(`[${pad}] ${line}\n`);
      }
    });
  }
  return readyPromise;
};

const shutdown = async (signal: string, exitCode = 0) => {
  if (stopping) return;
  stopping = true;
  say(`${signal}: stopping services (jobs in flight finish or go back to their streams)…`);
  const exits = children.map(
    ({ name, child }) =>
      new Promise<void>((done) => {
        if (child.exitCode !== null || child.signalCode !== null) return done();
        const force = setTimeout(() => {
          say(`${name} did not stop in time; killing it`);
          child.kill('SIGKILL');
        }, config.SHUTDOWN_GRACE_MS + 5_000);
        child.once('exit', () => {
          clearTimeout(force);
          done();
        });
        child.kill('SIGTERM');
      }),
  );
  await Promise.all(exits);
  await inbox?.close();
  if (natsChild && natsChild.exitCode === null) {
    const exited = new Promise((r) => natsChild?.once('exit', r));
    natsChild.kill('SIGTERM');
    await exited;
  }
  say('stopped');
  process.exit(exitCode);
};
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));

const main = async () => {
  let natsUrl = config.NATS_URL;
  if (await natsAnswers(natsUrl)) {
    say(`using the NATS server at ${natsUrl}`);
  } else {
    say(`no NATS server at ${natsUrl}: starting one (store: ${join(dataDir, 'nats')})`);
    natsChild = await startLocalNats({ url: natsUrl, storeDir: join(dataDir, 'nats'), log: (l) => say(`nats: ${l}`) });
  }
  let smtpUrl = config.SMTP_URL;
  if (!smtpUrl) {
    inbox = await startDevInbox({ smtpPort: config.INBOX_SMTP_PORT, webPort: config.INBOX_PORT });
    smtpUrl = inbox.smtpUrl;
    say(`no SMTP_URL: mail goes to the dev inbox at ${inbox.webUrl}`);
  }
  const publicUrl = config.PUBLIC_URL ?? `http://localhost:${config.GATEWAY_PORT}`;
  const secrets = { ...devSecrets(), ...(process.env.WEBHOOK_SECRET ? { WEBHOOK_SECRET: process.env.WEBHOOK_SECRET } : {}), ...(process.env.ADMIN_TOKEN ? { ADMIN_TOKEN: process.env.ADMIN_TOKEN } : {}) };
  const env = {
    ...process.env,
    NATS_URL: natsUrl,
    SMTP_URL: smtpUrl,
    MAIL_FROM: process.env.MAIL_FROM ?? 'Handoff <tickets@handoff.localhost>',
    PUBLIC_URL: publicUrl,
    APP_URL: process.env.APP_URL ?? `${publicUrl}/me`,
    GATEWAY_PORT: String(config.GATEWAY_PORT),
    WEBHOOK_PORT: String(config.WEBHOOK_PORT),
    SHUTDOWN_GRACE_MS: String(config.SHUTDOWN_GRACE_MS),
    ...secrets,
  };
  const readies = SERVICES.map((name, i) => {
    const healthPort = ['auth', 'mailer', 'ticketing'].includes(name) ? String(config.WORKER_HEALTH_PORT + i) : '0';
    const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'services/launch.ts'), name], {
      cwd: root,
      env: { ...env, HEALTH_PORT: healthPort },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push({ name, child });
    child.once('exit', (code, signal) => {
      if (!stopping) {
        say(`${name} exited (${signal ?? code}); stopping everything`);
        void shutdown('service exit', 1);
      }
    });
    return prefixLines(name, child);
  });
  await Promise.all(readies);
  natsUrl = natsUrl.split(',')[0]!;
  const urls = {
    gateway: publicUrl,
    webhooks: `http://localhost:${config.WEBHOOK_PORT}/webhooks/payments`,
    admin: `${publicUrl}/admin`,
    inbox: inbox?.webUrl,
    nats: natsUrl,
  };
  say('Handoff is running:');
  say(`  API            ${urls.gateway}   (POST /auth/magic-link, /orders …)`);
  say(`  Webhooks       ${urls.webhooks}`);
  say(`  Admin          ${urls.admin}   (token in ${join(dataDir, 'dev-secrets.json')})`);
  if (urls.inbox) say(`  Dev inbox      ${urls.inbox}`);
  say(`  NATS           ${urls.nats}`);
  say('Try it: npm run demo   ·   stop: Ctrl-C');
  process.stdout.write(`handoff ready ${JSON.stringify(urls)}\n`);
};

main().catch((error: unknown) => {
  say(`failed: ${error instanceof Error ? error.message : String(error)}`);
  void shutdown('start failure', 1);
});
