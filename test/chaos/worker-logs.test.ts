import { expect, test } from 'vitest';
import { explainDuplicates, followMessage, type Incarnation } from './worker-logs.ts';

// The chaos verdict's reading of the workers' logs: which duplicate email a kill explains, and
// what happened to one message.
const life = (worker: string, service: string, killedAt: number | undefined, lines: object[]): Incarnation => ({
  worker,
  service,
  startedAt: 0,
  killedAt,
  output: () => ['not json', ...lines.map((l) => JSON.stringify(l))].join('\n'),
});

test('a duplicate is explained only by a mailer killed while it held that mail: claimed, killed, no send recorded', () => {
  const copies = new Map([
    ['<tickets-a@x.test>', 2],
    ['<tickets-b@x.test>', 2],
    ['<tickets-c@x.test>', 3],
    ['<magic-link-d@x.test>', 1],
  ]);
  const lives = [
    life('mailer-1', 'mailer', 1_000, [
      { msg: 'mail claimed; sending', mailId: 'tickets-a' },
      { msg: 'mail claimed; sending', mailId: 'tickets-b' },
      { msg: 'mail sent', mailId: 'tickets-b' },
      { msg: 'mail claimed; sending', mailId: 'tickets-c' },
    ]),
    // Alive to the end: holding a claim explains nothing.
    life('mailer-2', 'mailer', undefined, [{ msg: 'mail claimed; sending', mailId: 'tickets-b' }]),
    life('ticketing-1', 'ticketing', 2_000, [{ msg: 'mail claimed; sending', mailId: 'tickets-b' }]),
  ];
  const byId = new Map(explainDuplicates(copies, lives).map((e) => [e.messageId, e]));
  expect(byId.get('<tickets-a@x.test>')).toMatchObject({ copies: 2, unexplained: 0 });
  expect(byId.get('<tickets-a@x.test>')?.explainedBy[0]).toMatch(/^mailer-1 killed/);
  expect(byId.get('<tickets-b@x.test>')).toMatchObject({ copies: 2, explainedBy: [], unexplained: 1 });
  // One kill explains one extra copy, not two.
  expect(byId.get('<tickets-c@x.test>')).toMatchObject({ copies: 3, unexplained: 1 });
  expect(byId.has('<magic-link-d@x.test>')).toBe(false);
});

test('a send whose outcome was unknown is shown but explains nothing: the mailer should have waited for the answer', () => {
  const lives = [life('mailer-1', 'mailer', undefined, [{ msg: 'SMTP outcome unknown; the retry may deliver this mail twice', mailId: 'm-1', time: 5 }])];
  const [explanation] = explainDuplicates(new Map([['<m-1@x.test>', 2]]), lives);
  expect(explanation).toMatchObject({ unexplained: 1, explainedBy: [] });
  expect(explanation?.unknownOutcomes).toEqual([expect.stringMatching(/^mailer-1: SMTP outcome unknown/)]);
});

test("a message's history: every worker's lines about that job's sequence, oldest first", () => {
  const lives = [
    life('ticketing-1', 'ticketing', 3_000, [
      { time: 2_000, msg: 'job started', job: 'tickets.generated', streamSeq: 7, attempt: 1, deliveries: 1 },
      { time: 2_500, msg: 'job started', job: 'tickets.generate', streamSeq: 7, attempt: 1, deliveries: 1 },
    ]),
    life('ticketing-2', 'ticketing', undefined, [{ time: 9_000, msg: 'job done', job: 'tickets.generated', streamSeq: 7, attempt: 2 }]),
  ];
  const history = followMessage(lives, 'TICKETS', 'ticketing-aggregate', 7);
  expect(history).toHaveLength(2);
  expect(history[0]).toMatch(/ticketing-1 \(killed .*\): job started \[attempt 1, delivery 1\]/);
  expect(history[1]).toMatch(/ticketing-2: job done \[attempt 2\]/);
});
