import { expect, test } from 'vitest';
import { formatReport } from './report.ts';
import { runChaos, SHORT_CHAOS } from './scenario.ts';

// The short chaos run of issue 9 (the long one is `npm run chaos`): 40 orders × 5 tickets and 100
// magic-link requests while random workers are SIGKILLed and restarted, nats-server is SIGKILLed
// and restarted on its store, and SMTP refuses connections for 15 s.
test('chaos: every order one tickets.ready and its email, every known user a link, nothing left pending, no dead letters, duplicates only from kills mid-send', async () => {
  const { report, facts } = await runChaos({ ...SHORT_CHAOS, log: (line) => console.log(`chaos: ${line}`) });
  console.log(formatReport(report));
  // The chaos really happened: workers of every kind died, the broker restarted, mail was refused.
  expect(facts.kills.length).toBeGreaterThanOrEqual(5);
  expect(new Set(facts.kills.map((k) => k.service)).size).toBeGreaterThanOrEqual(2);
  expect(facts.natsRestarts).toBe(1);
  for (const check of report.checks) expect(check, check.name).toMatchObject({ pass: true });
  expect(report.pass).toBe(true);
}, 420_000);
