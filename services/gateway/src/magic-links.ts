import { z } from 'zod';
import { Email, type MagicLinkRequested } from '#shared/contracts/auth';
import { clientNetwork } from '#shared/http/client-network';
import { magicLinkChecks, type MagicLinkLimits } from '#shared/http/magic-link-limits';
import { HttpProblem } from '#shared/http/problems';
import type { QuotaLimiter } from '#shared/http/rate-limit';
import { firstIssue } from '#shared/http/zod-issues';
import type { Log } from '#shared/observability/logger';

export interface MagicLinkJobs {
  /** Resolves once JetStream stored the job (PubAck); throws when it could not. */
  requestMagicLink(job: MagicLinkRequested): Promise<void>;
}

const MagicLinkBody = z.object({ email: Email });

/**
 * Asking for a sign-in link, for the JSON API and the buyer page's form alike: every limit
 * counted, the job stored durably, each refusal an HttpProblem (the API sends it, the page words it).
 */
export const createMagicLinkRequests = (deps: { jobs: MagicLinkJobs; limiter: QuotaLimiter; log: Log; config: { rateLimits: MagicLinkLimits } }) => ({
  async request(input: unknown, ip: string): Promise<void> {
    const parsed = MagicLinkBody.safeParse(input);
    if (!parsed.success) throw new HttpProblem('invalid_request', firstIssue(parsed.error));
    const { email } = parsed.data;

    const checks = magicLinkChecks(email, ip, deps.config.rateLimits);
    const decision = await deps.limiter.take(checks).catch((error: unknown) => {
      // The counters live in NATS: without them no request is let through unchecked.
      deps.log.error({ err: error instanceof Error ? error.message : String(error) }, 'rate limit store unavailable');
      throw new HttpProblem('service_unavailable', 'The request could not be checked; nothing was sent.');
    });
    if (!decision.allowed) {
      const { retryAfterSeconds } = decision;
      deps.log.warn({ scopes: decision.refused.map((i) => checks[i]!.scope), email, ip, retryAfterSeconds }, 'magic link rate-limited');
      throw new HttpProblem('rate_limited', `Too many sign-in requests; retry in ${retryAfterSeconds} s.`, {
        'retry-after': String(retryAfterSeconds),
      });
    }

    try {
      await deps.jobs.requestMagicLink({ v: 1, email, network: clientNetwork(ip), requestedAt: new Date().toISOString() });
    } catch (error) {
      await decision.release().catch(() => undefined);
      deps.log.error({ err: error instanceof Error ? error.message : String(error) }, 'magic-link job not stored');
      throw new HttpProblem('service_unavailable', 'The request could not be queued; nothing was sent.');
    }
  },
});
export type MagicLinkRequests = ReturnType<typeof createMagicLinkRequests>;
