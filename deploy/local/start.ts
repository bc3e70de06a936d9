/**
 * `npm start`: the whole system on one machine. Uses NATS_URL when a server answers there, else
 * starts one with its store under DATA_DIR; starts a dev SMTP inbox when SMTP_URL is unset and a
 * dev payment provider when PAYMENT_CHECKOUT_URL is unset; runs the six services as separate
 * processes with prefixed logs (pretty on a terminal, JSON otherwise); Ctrl-C drains everything.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { parseEnv, intFromEnv } from '#shared/config/env';
import { startDevInbox, type DevInbox } from './dev-inbox.ts';
import { startDevPayments, type DevPayments } from './dev-payments.ts';
import { chooseLogFormat, createLineFormatter } from './log-lines.ts';
import { natsAnswers, startLocalNats } from './local-nats.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const SERVICES = ['auth', 'mailer', 'ticketing', 'webhook-ingest', 'gateway', 'console'] as const;
/** The secrets each service gets, and no other: the public gateway holds none of the operators'. */
const SECRETS_OF: Partial<Record<(typeof SERVICES)[number], ReadonlyArray<keyof DevSecrets>>> = {
  'webhook-ingest': ['WEBHOOK_SECRET'],
  ticketing: ['TICKET_SIGNING_KEY'],
  console: ['ADMIN_TOKEN'],
};

const config = parseEnv(
  z.object({
    NATS_URL: z.string().default('nats://127.0.0.1:4222'),
    SMTP_URL: z.string().optional(),
    DATA_DIR: z.string().default(join(root, '.data')),
    GATEWAY_PORT: intFromEnv(3000),
    WEBHOOK_PORT: intFromEnv(3001),
    CONSOLE_PORT: intFromEnv(3002),
    INBOX_PORT: intFromEnv(8025),
    INBOX_SMTP_PORT: intFromEnv(2525),
    /** The dev payment provider's port, when PAYMENT_CHECKOUT_URL is unset. */
    PAYMENTS_PORT: intFromEnv(3003),
    PAYMENT_CHECKOUT_URL: z.string().optional(),
    /** `pretty` (one coloured line per event) or `json`; unset: pretty when stdout is a terminal. */
    LOG_FORMAT: z.enum(['pretty', 'json']).optional(),
    /** First of three health/metrics ports for the workers (auth, mailer, ticketing). */
    WORKER_HEALTH_PORT: intFromEnv(3101),
    SHUTDOWN_GRACE_MS: intFromEnv(10_000),
    PUBLIC_URL: z.string().optional(),
  }),
  process.env,
);

const say = (line: string) => process.stdout.write(`[start] ${line}\n`);
const formatLine = createLineFormatter(chooseLogFormat(config.LOG_FORMAT, process.stdout.isTTY === true));
const dataDir = resolve(config.DATA_DIR);
mkdirSync(dataDir, { recursive: true });

type DevSecrets = { WEBHOOK_SECRET: string; ADMIN_TOKEN: string; TICKET_SIGNING_KEY: string };
const SECRET_NAMES = ['WEBHOOK_SECRET', 'ADMIN_TOKEN', 'TICKET_SIGNING_KEY'] as const;

/**
 * Development secrets, made once and kept under the data dir so restarts keep sessions, links and
 * ticket codes valid. A file from an older start gains the secrets it lacks; the environment wins.
 */
const devSecrets = (): DevSecrets => {
  const file = join(dataDir, 'dev-secrets.json');
  const stored = (existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : {}) as Partial<DevSecrets>;
  const secrets: DevSecrets = {
    WEBHOOK_SECRET: stored.WEBHOOK_SECRET ?? `whsec_${randomBytes(32).toString('base64')}`,
    ADMIN_TOKEN: stored.ADMIN_TOKEN ?? randomBytes(24).toString('base64url'),
    TICKET_SIGNING_KEY: stored.TICKET_SIGNING_KEY ?? randomBytes(32).toString('base64url'),
  };
  if (SECRET_NAMES.some((name) => stored[name] === undefined)) writeFileSync(file, JSON.stringify(secrets, null, 2), { mode: 0o600 });
  // Whatever made the file (an older start, an editor, a copy), it stays readable by its owner only.
  chmodSync(file, 0o600);
  for (const name of SECRET_NAMES) {
    const fromEnv = process.env[name];
    if (fromEnv) secrets[name] = fromEnv;
  }
  return secrets;
};

const children: Array<{ name: string; child: ChildProcess }> = [];
let natsChild: ChildProcess | undefined;
let inbox: DevInbox | undefined;
let payments: DevPayments | undefined;
let stopping = false;

const prefixLines = (name: string, child: ChildProcess) => {
  for (const stream of [child.stdout, child.stderr]) {
    let buffer = '';
    stream?.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      const lines = buffer.split('\n');
      buffer = lines.pop() ?? '';
      for (const line of lines) process.stdout.write(`${formatLine(name, line)}\n`);
    });
  }
};

/**
 * Waits for a service's /readyz. The probe, not the "service ready" log line, because services
 * inherit LOG_LEVEL and `LOG_LEVEL=warn npm start` must still start.
 */
const waitReady = async (name: string, child: ChildProcess, port: number) => {
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${name} exited during start-up (see its log above)`);
    try {
      if ((await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(1_000) })).ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${name} was not ready on port ${port} within 60 s`);
    await new Promise((r) => setTimeout(r, 150));
  }
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
  await payments?.close();
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
// Detached children do not die with us: if this launcher dies without its shutdown (a bug, an
// uncaught error), take them along rather than leave orphans holding the ports.
process.on('exit', () => {
  for (const { child } of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  if (natsChild && natsChild.exitCode === null && natsChild.signalCode === null) natsChild.kill('SIGKILL');
});

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
  const secrets = devSecrets();
  let checkoutUrl = config.PAYMENT_CHECKOUT_URL;
  if (!checkoutUrl) {
    payments = await startDevPayments({
      port: config.PAYMENTS_PORT,
      webhookUrl: `http://127.0.0.1:${config.WEBHOOK_PORT}/webhooks/payments`,
      webhookSecret: secrets.WEBHOOK_SECRET,
      returnOrigins: [publicUrl],
    });
    checkoutUrl = payments.checkoutUrl;
    say(`no PAYMENT_CHECKOUT_URL: checkouts go to the dev payment provider at ${checkoutUrl}`);
  }
  const env: Record<string, string | undefined> = {
    ...process.env,
    NATS_URL: natsUrl,
    SMTP_URL: smtpUrl,
    MAIL_FROM: process.env.MAIL_FROM ?? 'Handoff <tickets@handoff.localhost>',
    PUBLIC_URL: publicUrl,
    APP_URL: process.env.APP_URL ?? `${publicUrl}/`,
    PAYMENT_CHECKOUT_URL: checkoutUrl,
    GATEWAY_PORT: String(config.GATEWAY_PORT),
    WEBHOOK_PORT: String(config.WEBHOOK_PORT),
    CONSOLE_PORT: String(config.CONSOLE_PORT),
    CONSOLE_URL: process.env.CONSOLE_URL ?? `http://localhost:${config.CONSOLE_PORT}`,
    SHUTDOWN_GRACE_MS: String(config.SHUTDOWN_GRACE_MS),
  };
  for (const name of SECRET_NAMES) delete env[name];
  const httpPorts: Partial<Record<(typeof SERVICES)[number], number>> = { gateway: config.GATEWAY_PORT, 'webhook-ingest': config.WEBHOOK_PORT, console: config.CONSOLE_PORT };
  const readies = SERVICES.map((name, i) => {
    const port = httpPorts[name] ?? config.WORKER_HEALTH_PORT + i;
    const own = Object.fromEntries((SECRETS_OF[name] ?? []).map((secret) => [secret, secrets[secret]]));
    const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'services/launch.ts'), name], {
      cwd: root,
      env: { ...env, ...own, HEALTH_PORT: httpPorts[name] ? '0' : String(port) },
      stdio: ['ignore', 'pipe', 'pipe'],
      // Its own process group: Ctrl-C reaches only this launcher, which then stops each service
      // once. A service that got the terminal's SIGINT and then our SIGTERM would take the second
      // signal as "exit now" and drop its in-flight jobs.
      detached: true,
    });
    children.push({ name, child });
    child.once('exit', (code, signal) => {
      if (!stopping) {
        say(`${name} exited (${signal ?? code}); stopping everything`);
        void shutdown('service exit', 1);
      }
    });
    prefixLines(name, child);
    return waitReady(name, child, port);
  });
  await Promise.all(readies);
  natsUrl = natsUrl.split(',')[0]!;
  const urls = {
    gateway: publicUrl,
    webhooks: `http://localhost:${config.WEBHOOK_PORT}/webhooks/payments`,
    console: `http://localhost:${config.CONSOLE_PORT}`,
    inbox: inbox?.webUrl,
    payments: checkoutUrl,
    nats: natsUrl,
    /** Every process this launcher runs, so a supervisor (or a test) can check they all stop. */
    pids: Object.fromEntries([...children.map(({ name, child }) => [name, child.pid]), ...(natsChild ? [['nats-server', natsChild.pid]] : [])]),
  };
  say('Handoff is running:');
  say(`  Buyer page     ${urls.gateway}/   (sign in, order, pay, watch tickets arrive; API: /auth/magic-link, /orders …)`);
  say(`  Webhooks       ${urls.webhooks}`);
  say(`  Console        ${urls.console}   (operators; token: ADMIN_TOKEN in ${join(dataDir, 'dev-secrets.json')})`);
  if (urls.inbox) say(`  Dev inbox      ${urls.inbox}`);
  if (payments) say(`  Dev payments   ${urls.payments}`);
  say(`  NATS           ${urls.nats}`);
  say('Try it: npm run demo   ·   stop: Ctrl-C');
  process.stdout.write(`handoff ready ${JSON.stringify(urls)}\n`);
};

main().catch((error: unknown) => {
  say(`failed: ${error instanceof Error ? error.message : String(error)}`);
  void shutdown('start failure', 1);
});
