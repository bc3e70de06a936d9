import { clientKey, clientNetwork } from './client-network.ts';
import type { RateCheck, RateRule } from './rate-limit.ts';

/**
 * The limits on sign-in requests, as rules over counters (see README, "Limits"):
 *
 * - `emailNetwork`: per email address and client network (/24, /64). The one that stops a flood:
 *   a stranger flooding one address from their network fills only this counter, never the
 *   counters of the person's own network.
 * - `email`: per email address overall, higher. It bounds how much mail one mailbox can receive
 *   from any number of networks (mail-bombing).
 * - `client`: per client (an IPv4 address, an IPv6 /64), whatever the email: a flood of many
 *   addresses from one client.
 *
 * Every counter takes one only when all have room (QuotaLimiter.take), so refused requests cost
 * nobody anything. The rules need only the email and the client address: the gateway counts all
 * three per replica (its 429s), and the auth worker counts the two per-email ones in shared
 * counters with the network carried in the job (the bound on mail across replicas).
 */
export interface MagicLinkLimits {
  emailNetwork: RateRule;
  email: RateRule;
  client: RateRule;
}

export const MAGIC_LINK_SCOPES = { emailNetwork: 'email-net', email: 'email', client: 'ip' } as const;

/** The counters one sign-in request for `email` from `ip` needs. */
export const magicLinkChecks = (email: string, ip: string, limits: MagicLinkLimits): RateCheck[] => [
  { scope: MAGIC_LINK_SCOPES.client, subject: clientKey(ip), rule: limits.client },
  { scope: MAGIC_LINK_SCOPES.emailNetwork, subject: `${email} ${clientNetwork(ip)}`, rule: limits.emailNetwork },
  { scope: MAGIC_LINK_SCOPES.email, subject: email, rule: limits.email },
];

/**
 * The counters the auth worker takes before it sends a sign-in mail: per email, and per email and
 * network when the job carries the network (same subjects as the gateway's, so the same rules).
 */
export const magicLinkMailChecks = (email: string, network: string | undefined, limits: Pick<MagicLinkLimits, 'emailNetwork' | 'email'>): RateCheck[] => [
  ...(network === undefined ? [] : [{ scope: MAGIC_LINK_SCOPES.emailNetwork, subject: `${email} ${network}`, rule: limits.emailNetwork }]),
  { scope: MAGIC_LINK_SCOPES.email, subject: email, rule: limits.email },
];
