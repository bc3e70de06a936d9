/**
 * What the connected nats-server can do, judged from the version it reports (`nc.info.version`).
 * 2.9.10 is the floor; features newer servers add are used only where the version has them.
 */

/** `2.15.1`, `2.12.0-RC.3` → [2, 15, 1] / [2, 12, 0]; undefined when unreadable. */
export const parseVersion = (version: string | undefined): [number, number, number] | undefined => {
  const match = /^v?(\d+)\.(\d+)\.(\d+)/.exec(version ?? '');
  return match ? [Number(match[1]), Number(match[2]), Number(match[3])] : undefined;
};

/** Whether `version` is at least `minimum`; an unreadable version counts as the floor (false). */
export const atLeast = (version: string | undefined, minimum: readonly [number, number, number]): boolean => {
  const parsed = parseVersion(version);
  if (!parsed) return false;
  for (let i = 0; i < 3; i++) if (parsed[i] !== minimum[i]) return parsed[i]! > minimum[i]!;
  return true;
};

/** Message scheduling (`allow_msg_schedules`, `Nats-Schedule: @at …`, ADR-51): 2.12+. */
export const supportsMessageSchedules = (version: string | undefined): boolean => atLeast(version, [2, 12, 0]);
