import { expect, test } from 'vitest';
import { announce, emptyRecord, grant, laneInTurn, slowDown, type Lane } from '#shared/jobs/lane-schedule';

const lanes: Lane[] = [
  { name: 'signin', priority: 0 },
  { name: 'bulk', priority: 1, maxSkipped: 4 },
];
const T = 250;

test('the waiting lane of the lowest priority number has the turn; nobody waiting, nobody', () => {
  const now = 10_000;
  expect(laneInTurn(emptyRecord(), lanes, now)).toBeUndefined();
  expect(laneInTurn(announce(emptyRecord(), ['bulk'], now + 1_000), lanes, now)).toBe('bulk');
  expect(laneInTurn(announce(emptyRecord(), ['bulk', 'signin'], now + 1_000), lanes, now)).toBe('signin');
  // An announcement that ran out (its replica died) holds nobody up.
  expect(laneInTurn(announce(emptyRecord(), ['signin'], now - 1), lanes, now)).toBeUndefined();
});

test('each grant spaces the next slot by the interval, from the later of now and the last slot', () => {
  let record = announce(emptyRecord(), ['bulk'], 20_000);
  record = grant(record, lanes, 'bulk', 10_000, T, true);
  expect(record.next).toBe(10_000 + T);
  record = grant(record, lanes, 'bulk', 10_010, T, true);
  expect(record.next).toBe(10_000 + 2 * T);
  record = grant(record, lanes, 'bulk', 60_000, T, false);
  expect(record.next).toBe(60_000 + T);
  expect(record.lanes.bulk?.waitingUntil).toBeUndefined();
});

test('bulk is never starved: after 4 slots went to sign-in while it waited, the 5th is its own', () => {
  let record = announce(emptyRecord(), ['signin', 'bulk'], 1e12);
  const order: string[] = [];
  for (let i = 0; i < 15; i++) {
    const now = 10_000 + i * T;
    const turn = laneInTurn(record, lanes, now)!;
    order.push(turn);
    record = grant(record, lanes, turn, now, T, true);
  }
  expect(order.join(' ')).toBe('signin signin signin signin bulk signin signin signin signin bulk signin signin signin signin bulk');
});

test('a slowed lane has no turn until its cooldown ends; repeats double the cooldown up to the cap', () => {
  const cooldown = { initialMs: 2_000, maxMs: 5_000 };
  let now = 10_000;
  let step = slowDown(emptyRecord(), 'signin', now, cooldown);
  expect(step.cooldownMs).toBe(2_000);
  const waiting = announce(step.record, ['signin', 'bulk'], 1e12);
  expect(laneInTurn(waiting, lanes, now + 1_999)).toBe('bulk');
  expect(laneInTurn(waiting, lanes, now + 2_001)).toBe('signin');
  now += 2_500;
  step = slowDown(step.record, 'signin', now, cooldown);
  expect(step.cooldownMs).toBe(4_000);
  now += 4_500;
  step = slowDown(step.record, 'signin', now, cooldown);
  expect(step.cooldownMs).toBe(5_000);
  // Long after the last one: back to the first cooldown.
  step = slowDown(step.record, 'signin', now + 60_000, cooldown);
  expect(step.cooldownMs).toBe(2_000);
});
