/**
 * TEST-ONLY fault injection for the ticket renderer, so integration tests can make a real render
 * hang or fail. It does nothing unless the service runs with TICKETING_TEST_FAULTS=1, and it is
 * keyed on an attendee-name prefix so a test chooses exactly which tickets misbehave:
 *   `[hang-once]`   the first attempt's render never returns (it waits on a `sleep` subprocess)
 *   `[fail-once]`   the first attempt throws
 *   `[fail-always]` every attempt throws
 */
export type RenderFault = 'hang' | 'fail' | undefined;

export const faultFor = (enabled: boolean, attendee: string, attempt: number): RenderFault => {
  if (!enabled) return undefined;
  if (attendee.startsWith('[hang-once]') && attempt === 1) return 'hang';
  if (attendee.startsWith('[fail-once]') && attempt === 1) return 'fail';
  if (attendee.startsWith('[fail-always]')) return 'fail';
  return undefined;
};
