import { RetryLaterError } from '#shared/jobs/job';
import type { LaneGate } from '#shared/jobs/lane-gate';
import { SmtpThrottledError, type MailTransport } from './transport.ts';

/**
 * The transport as one lane sees it: every send first takes a slot of its lane (the rate cap
 * shared by every mailer replica, sign-in before bulk), and a "slow down" answer pauses the lane
 * on every replica and sends the job back to its queue without using an attempt.
 */
export const laneTransport = (transport: MailTransport, gate: Pick<LaneGate, 'acquire' | 'slowDown'>, lane: string): MailTransport => ({
  async send(mail, signal) {
    await gate.acquire(lane, signal);
    try {
      return await transport.send(mail, signal);
    } catch (error) {
      if (!(error instanceof SmtpThrottledError)) throw error;
      const cooldownMs = await gate.slowDown(lane);
      throw new RetryLaterError(`${error.message}; lane ${lane} slowed down for ${cooldownMs} ms`, cooldownMs);
    }
  },
  close: () => transport.close(),
});
