import { expect, test } from 'vitest';
import { atLeast, featuresOf, parseVersion, serverFeatures } from '../server-features.ts';

test('versions compare by number, not by text, and a pre-release suffix is ignored', () => {
  expect(parseVersion('2.15.1')).toEqual([2, 15, 1]);
  expect(parseVersion('v2.10.0-RC.3')).toEqual([2, 10, 0]);
  expect(parseVersion('garbage')).toEqual([0, 0, 0]);
  expect(atLeast('2.10.0', '2.9.10')).toBe(true);
  expect(atLeast('2.9.10', '2.10.0')).toBe(false);
  expect(atLeast('2.11.0', '2.11.0')).toBe(true);
  expect(atLeast('3.0.0', '2.12.0')).toBe(true);
});

test('the floor has none of the newer features; the current server has all of them', () => {
  const floor = featuresOf('2.9.10');
  const current = featuresOf('2.15.1');
  const features = ['termReason', 'metadata', 'perMessageTtl', 'consumerPause', 'priorityGroups', 'batchDirectGet', 'messageSchedules', 'atomicBatch', 'counters'] as const;
  for (const f of features) {
    expect(floor[f], f).toBe(false);
    expect(current[f], f).toBe(true);
  }
  expect(featuresOf('2.10.22')).toMatchObject({ termReason: true, consumerPause: false, messageSchedules: false });
  expect(featuresOf('2.11.4')).toMatchObject({ consumerPause: true, perMessageTtl: true, atomicBatch: false });
  expect(featuresOf('2.12.0')).toMatchObject({ messageSchedules: true, atomicBatch: true });
});

test('the connection’s INFO decides; without one the floor is assumed', () => {
  expect(serverFeatures({ info: { version: '2.11.1' } as never }).consumerPause).toBe(true);
  expect(serverFeatures({ info: undefined }).termReason).toBe(false);
});
