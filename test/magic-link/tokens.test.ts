import { Kvm, type KV } from '@nats-io/kv';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { FastifyInstance } from 'fastify';
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
import { createUserStore } from '../../services/auth/src/users.ts';
import { buildApp } from '../../services/gateway/src/app.ts';
import { createAuthClient } from '../../services/gateway/src/auth-client.ts';
import { startNatsServer, type NatsServer } from '../nats-server.ts';
import { quietLog } from '../runtime-setup.ts';
import { uniqueEmail } from './helpers.ts';
import { magicLinkLimits, openLimiter } from '../gateway-fakes.ts';

// Auth runs in-process as two "replicas" (two connections in one queue group) behind a real gateway app.
const TTL_MS = 60_000;
let server: NatsServer;
let connections: NatsConnection[] = [];
let rpcServers: { stop(): Promise<void> }[] = [];
let tokensKv: KV;
let sessionsKv: KV;
let app: FastifyInstance;
let clock = Date.now();
let issue: (email: string) => Promise<string>;

const keys = async (kv: KV) => {
  const out: string[] = [];
  for await (const key of await kv.keys()) out.push(key);
  return out;
};

beforeAll(async () => {
  server = await startNatsServer();
  connections = await Promise.all([0, 1, 2].map(() => connect({ servers: server.url })));
  const [gatewayNc, ...authNcs] = connections as [NatsConnection, ...NatsConnection[]];
  const replicas = await Promise.all(
    authNcs.map(async (nc) => {
      const [users, tokens, sessions] = await Promise.all(
        [BUCKETS.users, BUCKETS.magicTokens, BUCKETS.sessions].map((b) => ensureBucket(nc, b, 1)),
      );
      return {
        nc,
        users: createUserStore(users!),
        tokens: createTokenStore(tokens!, { ttlMs: TTL_MS, now: () => clock }),
        sessions: createSessionStore(sessions!, { ttlMs: 3_600_000, now: () => clock }),
      };
    }),
  );
  rpcServers = replicas.map((r) => serveRpc(r.nc, createAuthRpc({ ...r, log: quietLog }), { queue: AUTH_RPC_QUEUE, log: quietLog }));
  const kvm = new Kvm(gatewayNc);
  tokensKv = await kvm.open(BUCKETS.magicTokens.name);
  sessionsKv = await kvm.open(BUCKETS.sessions.name);

  const first = replicas[0]!;
  issue = async (email) => {
    await first.users.add(email, undefined);
    const sent: MailSend[] = [];
    const handler = createOnMagicLinkRequested({ users: first.users, tokens: first.tokens, mail: { send: async (m) => void sent.push(m) } });
    await handler({ v: 1, email, requestedAt: new Date(clock).toISOString() }, { jobId: `job-${Math.random()}`, log: quietLog });
    const content = sent[0]?.content;
    if (content?.template !== 'magic_link') throw new Error('no sign-in mail job was produced');
    return content.token;
  };

  app = buildApp({
    jobs: { requestMagicLink: async () => undefined },
    auth: createAuthClient(createRpcClient(gatewayNc, { timeoutMs: 2_000 })),
    limiter: openLimiter,
    isReady: () => true,
    config: {
      publicUrl: 'https://tickets.example.test',
      appUrl: 'https://tickets.example.test/app',
      trustProxy: false,
      rateLimits: magicLinkLimits(1, 1_000),
    },
    log: quietLog,
  });
});

afterAll(async () => {
  await app?.close();
  await Promise.all(rpcServers.map((r) => r.stop()));
  await Promise.all(connections.map((nc) => nc.close()));
  await server?.stop();
});

/** A JSON client spends a token by posting it. */
const verify = (token: string) =>
  app.inject({ method: 'POST', url: '/auth/verify', payload: { token }, headers: { accept: 'application/json' } });
/** A browser presses the confirmation page's button: a same-origin form post. */
const press = (token: string, headers: Record<string, string> = { origin: 'https://tickets.example.test', 'sec-fetch-site': 'same-origin' }) =>
  app.inject({ method: 'POST', url: '/auth/verify', payload: new URLSearchParams({ token }).toString(), headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers } });

test('only the SHA-256 of a token is stored, never the token itself', async () => {
  const token = await issue(uniqueEmail('hash'));
  expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/); // 32 random bytes
  const stored = await keys(tokensKv);
  expect(stored).toContain(sha256Hex(token));
  expect(stored).not.toContain(token);
  const entry = await tokensKv.get(sha256Hex(token));
  expect(entry?.string()).not.toContain(token);
  expect(entry?.json()).toMatchObject({ expiresAt: new Date(clock + TTL_MS).toISOString() });
});

test('a valid token starts a session: Secure HttpOnly SameSite=Lax cookie, redirect to the app', async () => {
  const token = await issue(uniqueEmail('ok'));
  const response = await press(token);
  expect(response.statusCode).toBe(303);
  expect(response.headers.location).toBe('https://tickets.example.test/app');
  const cookie = String(response.headers['set-cookie']);
  expect(cookie).toMatch(/^handoff_session=[A-Za-z0-9_-]{43};/);
  expect(cookie).toMatch(/HttpOnly/);
  expect(cookie).toMatch(/Secure/);
  expect(cookie).toMatch(/SameSite=Lax/);
  const sessionId = /^handoff_session=([^;]+)/.exec(cookie)?.[1] ?? '';
  expect(await keys(sessionsKv)).toContain(sha256Hex(sessionId));
  expect(await keys(sessionsKv)).not.toContain(sessionId);
});

test('a reused token gets 410 token_used', async () => {
  const token = await issue(uniqueEmail('reuse'));
  expect((await verify(token)).statusCode).toBe(200);
  const again = await verify(token);
  expect(again.statusCode).toBe(410);
  expect(again.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(again.json()).toMatchObject({ code: 'token_used', status: 410 });
  expect(again.headers['set-cookie']).toBeUndefined();
});

test('an expired token gets 410 token_expired', async () => {
  const token = await issue(uniqueEmail('late'));
  clock += TTL_MS + 1;
  const response = await verify(token);
  expect(response.statusCode).toBe(410);
  expect(response.json()).toMatchObject({ code: 'token_expired' });
  expect(response.headers['set-cookie']).toBeUndefined();
});

test('an unknown or malformed token gets 400 token_invalid', async () => {
  const unknown = await verify('A'.repeat(43));
  expect(unknown.statusCode).toBe(400);
  expect(unknown.json()).toMatchObject({ code: 'token_invalid' });
  const missing = await app.inject({ method: 'GET', url: '/auth/verify', headers: { accept: 'application/json' } });
  expect(missing.statusCode).toBe(400);
  expect(missing.json()).toMatchObject({ code: 'token_invalid' });
});

test('opening the link shows a page with the token in a form and spends nothing, however often it is fetched', async () => {
  const token = await issue(uniqueEmail('page'));
  for (let i = 0; i < 3; i++) {
    const page = await app.inject({ method: 'GET', url: `/auth/verify?token=${token}` });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html; charset=utf-8/);
    expect(page.headers).toMatchObject({ 'cache-control': 'no-store', 'referrer-policy': 'no-referrer', 'x-robots-tag': 'noindex, nofollow', 'x-frame-options': 'DENY' });
    expect(page.headers['content-security-policy']).toMatch(/^default-src 'none'; style-src 'sha256-[A-Za-z0-9+/=]+'; form-action 'self'; frame-ancestors 'none'/);
    expect(page.headers['set-cookie']).toBeUndefined();
    expect(page.body).toContain(`<form method="post" action="/auth/verify">`);
    expect(page.body).toContain(`<input type="hidden" name="token" value="${token}">`);
    expect(page.body).not.toMatch(/<script/i);
  }
  expect((await press(token)).statusCode).toBe(303);
});

test('the browser path answers expired, used and unknown links with a page that says so', async () => {
  const used = await issue(uniqueEmail('used-page'));
  expect((await press(used)).statusCode).toBe(303);
  const cases: [string, number, RegExp][] = [
    [used, 410, /already been used/],
    ['A'.repeat(43), 400, /not valid/],
  ];
  const late = await issue(uniqueEmail('late-page'));
  clock += TTL_MS + 1;
  cases.push([late, 410, /has expired/]);
  for (const [token, status, text] of cases) {
    const page = await press(token);
    expect(page.statusCode).toBe(status);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.headers['cache-control']).toBe('no-store');
    expect(page.body).toMatch(text);
    expect(page.body).toContain('href="https://tickets.example.test/app"');
    expect(page.headers['set-cookie']).toBeUndefined();
  }
  const malformed = await app.inject({ method: 'GET', url: '/auth/verify?token=short' });
  expect(malformed.statusCode).toBe(400);
  expect(malformed.body).toMatch(/not valid/);
});

test('only a same-origin post spends the token: Origin and Sec-Fetch-Site are checked, Origin: null counts only with same-origin', async () => {
  const token = await issue(uniqueEmail('origin'));
  const refused: Record<string, string>[] = [
    { origin: 'https://evil.example' },
    { origin: 'https://evil.example', 'sec-fetch-site': 'same-origin' },
    { origin: 'https://tickets.example.test', 'sec-fetch-site': 'cross-site' },
    { origin: 'https://tickets.example.test', 'sec-fetch-site': 'same-site' },
    { origin: 'null' },
    {},
  ];
  for (const headers of refused) {
    const res = await press(token, headers);
    expect(res.statusCode, JSON.stringify(headers)).toBe(403);
    expect(res.body).toMatch(/did not come from the sign-in page/);
  }
  const json = await app.inject({ method: 'POST', url: '/auth/verify', payload: { token }, headers: { accept: 'application/json', origin: 'https://evil.example' } });
  expect(json.statusCode).toBe(403);
  expect(json.json()).toMatchObject({ code: 'cross_origin' });
  // Our page has Referrer-Policy: no-referrer, so a browser posts its form with Origin: null.
  const accepted = await press(token, { origin: 'null', 'sec-fetch-site': 'same-origin' });
  expect(accepted.statusCode).toBe(303);
});

test('a form body is accepted on POST /auth/verify only; text bodies are 415', async () => {
  const text = await app.inject({ method: 'POST', url: '/auth/verify', payload: 'token=x', headers: { 'content-type': 'text/plain', accept: 'application/json' } });
  expect(text.statusCode).toBe(415);
  const elsewhere = await app.inject({ method: 'POST', url: '/auth/magic-link', payload: 'email=a%40example.test', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  expect(elsewhere.statusCode).toBe(415);
});

test('10 concurrent verifications of one token, across two auth replicas, give exactly one session', async () => {
  const token = await issue(uniqueEmail('race'));
  const before = (await keys(sessionsKv)).length;
  const responses = await Promise.all(Array.from({ length: 10 }, () => verify(token)));
  const statuses = responses.map((r) => r.statusCode).sort();
  expect(statuses).toEqual([200, ...Array(9).fill(410)]);
  expect(responses.filter((r) => r.headers['set-cookie'])).toHaveLength(1);
  expect((await keys(sessionsKv)).length).toBe(before + 1);
});

test('the session cookie resolves to the user on /me, and not after logout', async () => {
  const email = uniqueEmail('me');
  const token = await issue(email);
  const cookie = String((await verify(token)).headers['set-cookie']).split(';')[0]!;
  const me = await app.inject({ method: 'GET', url: '/me', headers: { cookie } });
  expect(me.statusCode).toBe(200);
  expect(me.json()).toMatchObject({ user: { email } });
  expect((await app.inject({ method: 'POST', url: '/auth/logout', headers: { cookie } })).statusCode).toBe(204);
  const after = await app.inject({ method: 'GET', url: '/me', headers: { cookie } });
  expect(after.statusCode).toBe(401);
  expect(after.json()).toMatchObject({ code: 'unauthenticated' });
  expect((await app.inject({ method: 'GET', url: '/me' })).statusCode).toBe(401);
});

test('with no auth replica answering, verification and /me answer 503 service_unavailable', async () => {
  await Promise.all(rpcServers.map((r) => r.stop()));
  const response = await verify('B'.repeat(43));
  expect(response.statusCode).toBe(503);
  expect(response.json()).toMatchObject({ code: 'service_unavailable' });
  const me = await app.inject({ method: 'GET', url: '/me', headers: { cookie: `handoff_session=${'C'.repeat(43)}` } });
  expect(me.statusCode).toBe(503);
});
