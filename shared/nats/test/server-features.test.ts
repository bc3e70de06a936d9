import { expect, test } from 'vitest';
import { atLeast, parseVersion, supportsMessageSchedules } from '../server-features.ts';

test('versions are read from what the server reports, pre-releases included', () => {
  expect(parseVersion('2.15.1')).toEqual([2, 15, 1]);
  expect(parseVersion('2.12.0-RC.3')).toEqual([2, 12, 0]);
  expect(parseVersion('v2.9.10')).toEqual([2, 9, 10]);
  expect(parseVersion('')).toBeUndefined();
  expect(parseVersion(undefined)).toBeUndefined();
});

test('message schedules from 2.12 on; 2.9, 2.10, 2.11 and an unreadable version have none', () => {
  for (const version of ['2.12.0', '2.12.9', '2.14.0', '2.15.1', '3.0.0']) expect(supportsMessageSchedules(version), version).toBe(true);
  for (const version of ['2.9.10', '2.10.29', '2.11.9', 'unknown', undefined]) expect(supportsMessageSchedules(version), String(version)).toBe(false);
  // Numbers compare as numbers, not as text.
  expect(atLeast('2.9.10', [2, 10, 0])).toBe(false);
  expect(atLeast('2.10.0', [2, 9, 10])).toBe(true);
});
