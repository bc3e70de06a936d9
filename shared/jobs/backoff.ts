import type { BackoffPolicy } from '#shared/contracts/spec';

/** The nominal (un-jittered) delay after `attempt` failed: initial × multiplier^(attempt−1), capped. */
export const nominalDelay = (policy: BackoffPolicy, attempt: number): number =>
  Math.min(policy.maxMs, policy.initialMs * policy.multiplier ** Math.max(0, attempt - 1));

/**
 * The delay before the next attempt after `attempt` (1-based) failed. Jitter spreads retries of
 * jobs that failed together (an SMTP outage fails them all at once) so they do not return in a herd.
 */
export const retryDelay = (policy: BackoffPolicy, attempt: number, random: () => number = Math.random): number => {
  const nominal = nominalDelay(policy, attempt);
  const jittered = nominal * (1 + policy.jitter * (2 * random() - 1));
  return Math.max(0, Math.round(Math.min(policy.maxMs, jittered)));
};
