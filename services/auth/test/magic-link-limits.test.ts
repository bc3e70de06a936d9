import { expect, test } from 'vitest';
import type { MagicLinkRequested } from '#shared/contracts/auth';
import type { MailSend } from '#shared/contracts/mail';
import { magicLinkMailChecks } from '#shared/http/magic-link-limits';
import { createMemoryRateLimiter } from '#shared/http/memory-rate-limit';
import type { Log } from '#shared/observability/logger';
import { createOnMagicLinkRequested } from '../src/handlers/magic-link-requested.ts';

const rules = { emailNetwork: { max: 2, windowMs: 600_000 }, email: { max: 3, windowMs: 600_000 } };
const user = { id: 'u1', email: 'grace@example.test', createdAt: new Date(0).toISOString() };

/** The handler with plain fakes: the shared counters are an in-memory QuotaLimiter here. */
const setup = (options: { failMail?: boolean } = {}) => {
  const sent: MailSend[] = [];
  const dropped: string[][] = [];
  const warnings: unknown[] = [];
  const limiter = createMemoryRateLimiter();
  const log = { info: () => undefined, warn: (fields: unknown) => void warnings.push(fields) } as unknown as Log;
  const handler = createOnMagicLinkRequested({
    users: { find: async (email) => (email === user.email ? user : undefined) },
    tokens: { issue: async () => ({ token: 'T'.repeat(43), expiresAt: new Date(600_000).toISOString() }) },
    mail: {
      send: async (mail) => {
        if (options.failMail) throw new Error('MAIL stream unavailable');
        sent.push(mail);
      },
    },
    limits: { limiter, rules, dropped: (scopes) => void dropped.push(scopes) },
  });
  let n = 0;
  const run = (job: MagicLinkRequested) => handler(job, { jobId: `job-${n++}`, log });
  return { sent, dropped, warnings, limiter, run };
};
const job = (network?: string): MagicLinkRequested => ({ v: 1, email: user.email, ...(network ? { network } : {}), requestedAt: new Date().toISOString() });

test('over the per-email-and-network limit a request is dropped without mail, resolved (acked), logged and counted', async () => {
  const { sent, dropped, warnings, run } = setup();
  for (let i = 0; i < 4; i++) await expect(run(job('10.0.0.0/24'))).resolves.toBeUndefined();
  expect(sent).toHaveLength(2);
  expect(dropped).toEqual([['email-net'], ['email-net']]);
  expect(warnings).toEqual([expect.objectContaining({ outcome: 'dropped', scopes: ['email-net'] }), expect.objectContaining({ outcome: 'dropped' })]);
});

test('the per-email cap holds across networks, and a job without a network (an older gateway) counts against it', async () => {
  const { sent, dropped, run } = setup();
  await run(job('10.0.1.0/24'));
  await run(job('10.0.2.0/24'));
  await run(job());
  await run(job('10.0.3.0/24'));
  expect(sent).toHaveLength(3);
  expect(dropped).toEqual([['email']]);
});

test('a failed attempt gives its counts back, so its retry is not counted twice', async () => {
  const failing = setup({ failMail: true });
  await expect(failing.run(job('10.0.0.0/24'))).rejects.toThrow(/MAIL stream unavailable/);
  expect(await failing.limiter.counts(magicLinkMailChecks(user.email, '10.0.0.0/24', rules))).toEqual([0, 0]);
});

test('unknown addresses count too, as at the gateway: the limits do not tell who has an account', async () => {
  const { sent, dropped, run } = setup();
  const stranger = (): MagicLinkRequested => ({ v: 1, email: 'nobody@example.test', network: '10.0.0.0/24', requestedAt: new Date().toISOString() });
  for (let i = 0; i < 3; i++) await run(stranger());
  expect(sent).toHaveLength(0);
  expect(dropped).toEqual([['email-net']]);
});
