import { z } from 'zod';
import type { LaneSpec } from '#shared/contracts/spec';

/**
 * The shared state of send slots (one KV record, changed only by compare-and-set), and the pure
 * rules over it. Slots are spaced `intervalMs` apart (1000 / rate): the record holds when the
 * next may start, so any window of one second holds at most `rate` slot starts, plus one at the
 * window's edges, whichever replica took them (a generic cell-rate algorithm without burst).
 */
export const LaneState = z.object({
  /** A replica has sends of this lane waiting, announced until this time (ms). */
  waitingUntil: z.number().optional(),
  /** Slots given to higher lanes in a row while this one waited. */
  skipped: z.number().int().default(0),
  /** The provider said slow down: no sends of this lane before this time (ms). */
  slowUntil: z.number().optional(),
  /** How many slow-downs in a row (each cooldown doubles). */
  slowLevel: z.number().int().default(0),
});
export type LaneState = z.infer<typeof LaneState>;

export const GateRecord = z.object({
  /** The earliest start of the next send (ms since the epoch). */
  next: z.number(),
  lanes: z.record(z.string(), LaneState),
});
export type GateRecord = z.infer<typeof GateRecord>;

export type Lane = Pick<LaneSpec, 'name' | 'priority' | 'maxSkipped'>;

export const emptyRecord = (): GateRecord => ({ next: 0, lanes: {} });

const laneOf = (record: GateRecord, name: string): LaneState => record.lanes[name] ?? { skipped: 0, slowLevel: 0 };

export const isSlowed = (record: GateRecord, lane: string, now: number): boolean => (laneOf(record, lane).slowUntil ?? 0) > now;

const isWaiting = (record: GateRecord, lane: string, now: number): boolean =>
  (laneOf(record, lane).waitingUntil ?? 0) > now && !isSlowed(record, lane, now);

/**
 * Whose turn the next slot is: a lane that has been skipped `maxSkipped` times while waiting (it
 * would otherwise starve), else the waiting lane of the lowest priority number.
 */
export const laneInTurn = (record: GateRecord, lanes: readonly Lane[], now: number): string | undefined => {
  const waiting = [...lanes].filter((l) => isWaiting(record, l.name, now)).sort((a, b) => a.priority - b.priority);
  const starving = waiting.find((l) => l.maxSkipped !== undefined && laneOf(record, l.name).skipped >= l.maxSkipped);
  return (starving ?? waiting[0])?.name;
};

/** Marks `names` as waiting until `until` (a replica says: I have sends of these lanes queued). */
export const announce = (record: GateRecord, names: readonly string[], until: number): GateRecord => {
  const lanes = { ...record.lanes };
  for (const name of names) lanes[name] = { ...laneOf(record, name), waitingUntil: Math.max(until, laneOf(record, name).waitingUntil ?? 0) };
  return { ...record, lanes };
};

/**
 * Gives the slot at `now` to `lane`: the next slot starts `intervalMs` later; every lower lane that
 * waited was skipped once more; the lane's own count starts over. `stillWaiting`: the replica
 * has more sends of this lane queued (its announcement stays).
 */
export const grant = (record: GateRecord, lanes: readonly Lane[], lane: string, now: number, intervalMs: number, stillWaiting: boolean): GateRecord => {
  const granted = lanes.find((l) => l.name === lane);
  const next: GateRecord = { next: Math.max(record.next, now) + intervalMs, lanes: { ...record.lanes } };
  for (const l of lanes) {
    const state = laneOf(record, l.name);
    if (l.name === lane) next.lanes[l.name] = { ...state, skipped: 0, ...(stillWaiting ? {} : { waitingUntil: undefined }) };
    else if (granted && l.priority > granted.priority && isWaiting(record, l.name, now)) next.lanes[l.name] = { ...state, skipped: state.skipped + 1 };
  }
  return next;
};

/**
 * The provider answered 421/454 ("slow down"): the lane sends nothing for a cooldown, doubled for
 * each slow-down that follows the previous one within twice its cooldown, capped at `maxMs`.
 */
export const slowDown = (record: GateRecord, lane: string, now: number, cooldown: { initialMs: number; maxMs: number }): { record: GateRecord; cooldownMs: number } => {
  const state = laneOf(record, lane);
  const previous = Math.min(cooldown.maxMs, cooldown.initialMs * 2 ** state.slowLevel);
  const recent = state.slowUntil !== undefined && now - state.slowUntil < previous;
  const level = recent ? state.slowLevel + 1 : 0;
  const cooldownMs = Math.min(cooldown.maxMs, cooldown.initialMs * 2 ** level);
  const slowUntil = Math.max(state.slowUntil ?? 0, now + cooldownMs);
  return { record: { ...record, lanes: { ...record.lanes, [lane]: { ...state, slowUntil, slowLevel: level } } }, cooldownMs: slowUntil - now };
};
