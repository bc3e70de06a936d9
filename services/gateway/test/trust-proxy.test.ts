import { afterEach, expect, test } from 'vitest';
import { parseEnv } from '#shared/config/env';
import { fullChecks, type QuotaLimiter } from '#shared/http/rate-limit';
import { buildApp } from '../src/app.ts';
import { gatewayEnv } from '../src/config.ts';

// Issue 12, acceptance 3: which address the per-address sign-in limit counts, as the operator
// states TRUST_PROXY. The gateway app through inject() (remoteAddress = the socket's peer), with a
// limiter that records what it is asked to count.
const quietLog = { info: () => {}, warn: () => {}, error: () => {}, debug: () => {} };
const apps: Array<ReturnType<typeof buildApp>> = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((a) => a.close()));
});

/** Per-key counters like the KV limiter's (all or nothing), recording every client address it counts. */
const recordingLimiter = () => {
  const counts = new Map<string, number>();
  const addresses: string[] = [];
  const keyOf = (check: { scope: string; subject: string }) => `${check.scope}:${check.subject}`;
  const limiter: QuotaLimiter = {
    async take(checks) {
      for (const check of checks) if (check.scope === 'ip') addresses.push(check.subject);
      const full = fullChecks(checks, checks.map((check) => counts.get(keyOf(check)) ?? 0));
      if (full.length > 0) return { allowed: false, refused: full, retryAfterSeconds: 60 };
      for (const check of checks) counts.set(keyOf(check), (counts.get(keyOf(check)) ?? 0) + 1);
      return { allowed: true, release: async () => undefined };
    },
    async hit(scope, subject, rule) {
      const decision = await this.take([{ scope, subject, rule }]);
      return decision.allowed ? { allowed: true, remaining: rule.max - (counts.get(`${scope}:${subject}`) ?? 0) } : { allowed: false, retryAfterSeconds: 60 };
    },
    async counts(checks) {
      return checks.map((check) => counts.get(keyOf(check)) ?? 0);
    },
  };
  return { limiter, addresses };
};

const gateway = (env: Record<string, string>) => {
  const config = parseEnv(gatewayEnv, env);
  const { limiter, addresses } = recordingLimiter();
  const app = buildApp({
    jobs: { requestMagicLink: async () => undefined },
    auth: {
      verifyToken: async () => ({ ok: false, code: 'token_invalid', message: 'unused' }),
      getSession: async () => ({ ok: false, code: 'session_invalid', message: 'unused' }),
      endSession: async () => ({ ok: true, ended: false }),
    },
    limiter,
    isReady: () => true,
    config: {
      publicUrl: config.PUBLIC_URL,
      appUrl: config.APP_URL,
      trustProxy: config.TRUST_PROXY,
      rateLimits: {
        emailNetwork: { max: 100, windowMs: config.RATE_LIMIT_EMAIL_NETWORK_WINDOW_MS },
        email: { max: 100, windowMs: config.RATE_LIMIT_EMAIL_WINDOW_MS },
        client: { max: config.RATE_LIMIT_IP_MAX, windowMs: config.RATE_LIMIT_IP_WINDOW_MS },
      },
    },
    log: quietLog,
  });
  apps.push(app);
  let n = 0;
  const ask = (remoteAddress: string, forwardedFor?: string) =>
    app.inject({
      method: 'POST',
      url: '/auth/magic-link',
      remoteAddress,
      headers: { 'content-type': 'application/json', ...(forwardedFor === undefined ? {} : { 'x-forwarded-for': forwardedFor }) },
      payload: JSON.stringify({ email: `someone${n++}@example.test` }),
    });
  return { ask, addresses };
};

const INGRESS = '10.244.1.17';

test('TRUST_PROXY=1: "X-Forwarded-For: 6.6.6.6, 10.1.2.3" from the proxy counts against 10.1.2.3, the address the proxy saw', async () => {
  const { ask, addresses } = gateway({ TRUST_PROXY: '1' });
  expect((await ask(INGRESS, '6.6.6.6, 10.1.2.3')).statusCode).toBe(202);
  expect(addresses).toEqual(['10.1.2.3']);
});

test('without TRUST_PROXY the header is ignored: the socket\'s peer is the client', async () => {
  const { ask, addresses } = gateway({});
  expect((await ask('203.0.113.50', '6.6.6.6, 10.1.2.3')).statusCode).toBe(202);
  expect((await ask('203.0.113.50', '6.6.6.6')).statusCode).toBe(202);
  expect(addresses).toEqual(['203.0.113.50', '203.0.113.50']);
});

test('TRUST_PROXY as CIDRs: trusted hops are skipped from the right, the first untrusted one is the client; an untrusted peer cannot forward', async () => {
  const { ask, addresses } = gateway({ TRUST_PROXY: '10.0.0.0/8, 192.168.0.1' });
  // A client spoofs 6.6.6.6; two of our proxies (10.x) forwarded it; the client is what the first proxy saw.
  expect((await ask('10.0.0.5', '6.6.6.6, 203.0.113.9, 10.0.0.7')).statusCode).toBe(202);
  expect((await ask('192.168.0.1', '6.6.6.6, 203.0.113.10')).statusCode).toBe(202);
  // Straight from the internet, not through a trusted proxy: the header names nobody.
  expect((await ask('198.51.100.1', '10.1.2.3')).statusCode).toBe(202);
  expect(addresses).toEqual(['203.0.113.9', '203.0.113.10', '198.51.100.1']);
});

test('two clients behind one trusted proxy are limited separately; without trust they are one address', async () => {
  const behindProxy = gateway({ TRUST_PROXY: '1', RATE_LIMIT_IP_MAX: '2' });
  for (let i = 0; i < 2; i++) expect((await behindProxy.ask(INGRESS, '203.0.113.1')).statusCode).toBe(202);
  const limited = await behindProxy.ask(INGRESS, '203.0.113.1');
  expect(limited.statusCode).toBe(429);
  expect(limited.json()).toMatchObject({ code: 'rate_limited' });
  // The neighbour behind the same Ingress is not punished for it.
  expect((await behindProxy.ask(INGRESS, '203.0.113.2')).statusCode).toBe(202);
  // Spoofing another address in front does not escape the limit: the proxy appends the real one.
  expect((await behindProxy.ask(INGRESS, '6.6.6.6, 203.0.113.1')).statusCode).toBe(429);

  // The failure the issue describes: untrusted, every client behind the Ingress is the Ingress.
  const lumped = gateway({ RATE_LIMIT_IP_MAX: '2' });
  for (let i = 0; i < 2; i++) expect((await lumped.ask(INGRESS, `203.0.113.${i + 1}`)).statusCode).toBe(202);
  expect((await lumped.ask(INGRESS, '203.0.113.3')).statusCode).toBe(429);
});

test('TRUST_PROXY=true is refused at start: it would let a client name any address', () => {
  expect(() => parseEnv(gatewayEnv, { TRUST_PROXY: 'true' })).toThrow(/TRUST_PROXY: true would trust every hop/);
  expect(() => parseEnv(gatewayEnv, { TRUST_PROXY: '10.0.0.0/33' })).toThrow(/TRUST_PROXY: not a hop count or a list of addresses\/CIDRs/);
});
