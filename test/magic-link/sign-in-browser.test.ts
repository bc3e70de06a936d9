import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KV } from '@nats-io/kv';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { FastifyInstance } from 'fastify';
import { chromium, type BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { AUTH_RPC_QUEUE } from '#shared/contracts/auth';
import { BUCKETS } from '#shared/contracts/buckets';
import type { MailSend } from '#shared/contracts/mail';
import { ensureBucket } from '#shared/nats/ensure';
import { createRpcClient, serveRpc } from '#shared/nats/rpc';
import { createOnMagicLinkRequested } from '../../services/auth/src/handlers/magic-link-requested.ts';
import { createAuthRpc } from '../../services/auth/src/handlers/rpc.ts';
import { sha256Hex } from '../../services/auth/src/secrets.ts';
import { createSessionStore } from '../../services/auth/src/sessions.ts';
import { createTokenStore } from '../../services/auth/src/tokens.ts';
import { createUserStore, type UserStore } from '../../services/auth/src/users.ts';
import { buildApp } from '../../services/gateway/src/app.ts';
import { createAuthClient } from '../../services/gateway/src/auth-client.ts';
import { magicLinkLimits, openLimiter } from '../gateway-fakes.ts';
import { startNatsServer, type NatsServer } from '../nats-server.ts';
import { freePort, repoRoot } from '../process.ts';
import { quietLog } from '../runtime-setup.ts';
import { uniqueEmail } from './helpers.ts';

// The real gateway app listening on a port, auth's handlers in-process on a real nats-server, and
// Debian's Chromium opening a sign-in link the way a person does.
let nats: NatsServer;
let nc: NatsConnection;
let rpcServer: { stop(): Promise<void> };
let tokensKv: KV;
let users: UserStore;
let issue: (email: string) => Promise<string>;
let app: FastifyInstance;
let base: string;
let context: BrowserContext | undefined;
const profile = mkdtempSync(join(tmpdir(), 'handoff-chromium-'));

beforeAll(async () => {
  nats = await startNatsServer();
  nc = await connect({ servers: nats.url });
  const [usersKv, tokens, sessions] = await Promise.all([BUCKETS.users, BUCKETS.magicTokens, BUCKETS.sessions].map((b) => ensureBucket(nc, b, 1)));
  tokensKv = tokens!;
  users = createUserStore(usersKv!);
  const tokenStore = createTokenStore(tokensKv, { ttlMs: 600_000 });
  rpcServer = serveRpc(nc, createAuthRpc({ users, tokens: tokenStore, sessions: createSessionStore(sessions!, { ttlMs: 3_600_000 }), log: quietLog }), { queue: AUTH_RPC_QUEUE, log: quietLog });
  issue = async (email) => {
    await users.add(email, 'Browser User');
    const sent: MailSend[] = [];
    await createOnMagicLinkRequested({ users, tokens: tokenStore, mail: { send: async (m) => void sent.push(m) } })(
      { v: 1, email, requestedAt: new Date().toISOString() },
      { jobId: `job-${Math.random()}`, log: quietLog },
    );
    const content = sent[0]!.content;
    if (content.template !== 'magic_link') throw new Error(`a ${content.template} mail, not a sign-in link`);
    return content.token;
  };
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  app = buildApp({
    jobs: { requestMagicLink: async () => undefined },
    auth: createAuthClient(createRpcClient(nc, { timeoutMs: 5_000 })),
    limiter: openLimiter,
    isReady: () => true,
    // APP_URL is /me here, so landing on it shows who is signed in.
    config: { publicUrl: base, appUrl: `${base}/me`, trustProxy: false, rateLimits: magicLinkLimits(100) },
    log: quietLog,
  });
  await app.listen({ port, host: '127.0.0.1' });
});

afterAll(async () => {
  await context?.close();
  await app?.close();
  await rpcServer?.stop();
  await nc?.close();
  await nats?.stop();
  rmSync(profile, { recursive: true, force: true });
});

test('in Chromium: the link opens a confirmation page that spends nothing; pressing Sign in lands on APP_URL signed in; pressing again says the link is used', async () => {
  const email = uniqueEmail('browser');
  const token = await issue(email);
  context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    viewport: { width: 900, height: 640 },
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const violations: string[] = [];
  page.on('console', (m) => {
    if (/Content Security Policy|Refused to/i.test(m.text())) violations.push(m.text());
  });

  const opened = await page.goto(`${base}/auth/verify?token=${token}`);
  expect(opened?.status()).toBe(200);
  expect(await page.title()).toBe('Sign in to Handoff');
  const button = page.getByRole('button', { name: 'Sign in' });
  expect(await button.isVisible()).toBe(true);
  // The page is styled (its one inline style is allowed by hash) and nothing was refused.
  expect(await button.evaluate((b) => getComputedStyle(b).backgroundColor)).toBe('rgb(31, 95, 191)');
  expect(violations).toEqual([]);
  // Opening the link spent nothing: the token is not marked used and no session cookie exists.
  expect((await tokensKv.get(sha256Hex(token)))?.json<{ usedAt?: string }>().usedAt).toBeUndefined();
  expect((await context.cookies(base)).find((c) => c.name === 'handoff_session')).toBeUndefined();
  await page.screenshot({ path: join(repoRoot, 'test/artifacts/sign-in-confirm.png') });

  await Promise.all([page.waitForURL(`${base}/me`), button.click()]);
  expect(JSON.parse(await page.locator('body').innerText())).toMatchObject({ user: { email, name: 'Browser User' } });
  const cookie = (await context.cookies(base)).find((c) => c.name === 'handoff_session');
  expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Lax' });

  await page.goto(`${base}/auth/verify?token=${token}`);
  const [again] = await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Sign in' }).click()]);
  expect(again?.status()).toBe(410);
  expect(await page.locator('h1').innerText()).toBe('This sign-in link has already been used');
});
