/**
 * Issue 12, acceptance 5, on the console service itself: two replicas as real processes, each the
 * `console` NATS user on a server running deploy/nats/server.conf, sharing the console's buckets.
 * Their only proxy is this test (TRUST_PROXY=127.0.0.1), so X-Forwarded-For names the client.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { passwordOf, randomPasswords, singleServerConfig } from '../deploy/nats-config.ts';
import { startNatsServer, type NatsServer } from '../nats-server.ts';
import { parsePrometheus } from '../observability/prometheus.ts';
import { startService, type RunningService } from '../services.ts';

const passwords = randomPasswords();
const TOKEN = `console-${Math.random().toString(36).slice(2)}-${Date.now().toString(36)}`;
let nats: NatsServer;
const replicas: RunningService[] = [];
const url = (replica: number, path: string) => `http://127.0.0.1:${replicas[replica]!.port}${path}`;
const from = (address: string) => ({ 'x-forwarded-for': address });

beforeAll(async () => {
  nats = await startNatsServer({ config: singleServerConfig(passwords) });
  const env = {
    NATS_URL: nats.url,
    NATS_USER: 'console',
    NATS_PASSWORD: passwordOf(passwords, 'console'),
    ADMIN_TOKEN: TOKEN,
    CONSOLE_PORT: '0',
    CONSOLE_HOST: '127.0.0.1',
    TRUST_PROXY: '127.0.0.1',
  };
  replicas.push(await startService('console', env));
  replicas.push(await startService('console', env));
}, 60_000);

afterAll(async () => {
  await Promise.all(replicas.map((r) => r.kill('SIGKILL')));
  await nats?.stop();
});

test('/metrics answers on the console\'s internal health port and is a 404 problem on its public port', async () => {
  const publicRes = await fetch(url(0, '/metrics'), { headers: { authorization: `Bearer ${TOKEN}` } });
  expect(publicRes.status).toBe(404);
  expect(publicRes.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  const internal = await fetch(`http://127.0.0.1:${Number(replicas[0]!.ready.healthPort)}/metrics`);
  expect(internal.status).toBe(200);
  const samples = parsePrometheus(await internal.text());
  expect(samples.some((s) => s.name.startsWith('handoff_http_requests'))).toBe(true);
});

test('20 wrong bearer tokens from one address, across replicas, and its 21st request is a 429 — even with the right token', async () => {
  const attacker = '198.51.100.20';
  for (let i = 0; i < 20; i++) {
    const res = await fetch(url(i % 2, '/snapshot'), { headers: { ...from(attacker), authorization: `Bearer wrong-${i}-${TOKEN}` } });
    expect(res.status, `wrong token ${i + 1}`).toBe(401);
  }
  for (const replica of [0, 1]) {
    const wrong = await fetch(url(replica, '/snapshot'), { headers: { ...from(attacker), authorization: 'Bearer wrong-again' } });
    expect(wrong.status).toBe(429);
    expect(Number(wrong.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await wrong.json()).toMatchObject({ code: 'rate_limited' });
    const right = await fetch(url(replica, '/snapshot'), { headers: { ...from(attacker), authorization: `Bearer ${TOKEN}` } });
    expect(right.status, 'the right token from a blocked address').toBe(429);
  }
  const other = await fetch(url(0, '/snapshot'), { headers: { ...from('198.51.100.21'), authorization: `Bearer ${TOKEN}` } });
  expect(other.status).toBe(200);
});

test('sign-out on one replica revokes the cookie on every replica', async () => {
  const login = await fetch(url(0, '/login'), {
    method: 'POST',
    headers: { ...from('198.51.100.30'), 'content-type': 'application/x-www-form-urlencoded', origin: url(0, '') },
    body: new URLSearchParams({ token: TOKEN }),
    redirect: 'manual',
  });
  expect(login.status).toBe(303);
  const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0]!;
  for (const replica of [0, 1]) expect((await fetch(url(replica, '/snapshot'), { headers: { cookie } })).status, `replica ${replica} before`).toBe(200);

  const out = await fetch(url(1, '/logout'), { method: 'POST', headers: { cookie, origin: url(1, '') }, redirect: 'manual' });
  expect(out.status).toBe(303);
  expect(out.headers.get('set-cookie')).toMatch(/^handoff_admin=;/);
  for (const replica of [0, 1]) {
    const res = await fetch(url(replica, '/snapshot'), { headers: { cookie } });
    expect(res.status, `replica ${replica} after sign-out`).toBe(401);
    expect(await res.json()).toMatchObject({ code: 'unauthenticated' });
  }
});
