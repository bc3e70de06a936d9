import { z } from 'zod';
import { BUCKETS } from '#shared/contracts/buckets';
import { commonEnv, intFromEnv, urlFromEnv } from '#shared/config/env';
import { trustProxyFromEnv } from '#shared/config/trust-proxy';

const MINUTE = 60_000;
// A counter must live at least as long as its window; the bucket's TTL is what deletes it.
const window = (fallback: number) => intFromEnv(fallback).pipe(z.number().min(1_000).max(BUCKETS.rateLimits.ttlMs));

/** Gateway settings; the default of each is what an unset variable means. */
export const gatewayEnv = z.object({
  ...commonEnv,
  /** HTTP port (default 3000; 0 picks a free one, printed in the "service ready" line). */
  GATEWAY_PORT: intFromEnv(3000).pipe(z.number().max(65_535)),
  /** Interface to listen on (default 0.0.0.0). */
  GATEWAY_HOST: z.string().default('0.0.0.0'),
  /** The gateway's public base URL (default http://localhost:3000); https makes the session cookie Secure. */
  PUBLIC_URL: urlFromEnv(['http:', 'https:']).default('http://localhost:3000'),
  /** Where a verified magic link lands (default http://localhost:3000/). */
  APP_URL: urlFromEnv(['http:', 'https:']).default('http://localhost:3000/'),
  /** Which proxies in front may name the client (X-Forwarded-For): see shared/config/trust-proxy.ts. */
  TRUST_PROXY: trustProxyFromEnv,
  /**
   * Magic-link requests per email address from one client network (an IPv4 /24, an IPv6 /64) per
   * window (default 5 per 15 minutes). A flood from a stranger's network fills only their counter.
   */
  RATE_LIMIT_EMAIL_NETWORK_MAX: intFromEnv(5).pipe(z.number().min(1)),
  /** Window of the per-email-and-network limit (default 15 minutes, at most 1 hour). */
  RATE_LIMIT_EMAIL_NETWORK_WINDOW_MS: window(15 * MINUTE),
  /** Magic-link requests per email address from all networks together per window (default 20 per hour): the mail-bombing bound. */
  RATE_LIMIT_EMAIL_MAX: intFromEnv(20).pipe(z.number().min(1)),
  /** Window of the overall per-email limit (default 1 hour, at most 1 hour). */
  RATE_LIMIT_EMAIL_WINDOW_MS: window(60 * MINUTE),
  /** Magic-link requests per client (an IPv4 address, an IPv6 /64) per window, any email (default 30). */
  RATE_LIMIT_IP_MAX: intFromEnv(30).pipe(z.number().min(1)),
  /** Window of the per-client limit (default 15 minutes, at most 1 hour). */
  RATE_LIMIT_IP_WINDOW_MS: window(15 * MINUTE),
  /** Orders one signed-in user may create per window (default 20); more get 429 with Retry-After. */
  RATE_LIMIT_ORDERS_MAX: intFromEnv(20).pipe(z.number().min(1)),
  /** Window of the per-user order limit (default 1 hour, at most 1 hour). */
  RATE_LIMIT_ORDERS_WINDOW_MS: window(60 * MINUTE),
  /**
   * The payment provider's hosted checkout (default http://localhost:3003/checkout, the dev
   * provider `npm start` runs). The buyer page sends the buyer there with `order`, `amount`
   * (minor units), `currency`, `description` and `return` (the order's page) in the query.
   */
  PAYMENT_CHECKOUT_URL: urlFromEnv(['http:', 'https:']).default('http://localhost:3003/checkout'),
  /** Live order views (GET /orders/:id/events) one user may hold open at once on one replica (default 5); more get 429. */
  ORDER_EVENTS_MAX_PER_USER: intFromEnv(5).pipe(z.number().min(1).max(100)),
  /** How often an open live view gets a comment line, so proxies do not close an idle stream (default 15 s). */
  ORDER_EVENTS_HEARTBEAT_MS: intFromEnv(15_000).pipe(z.number().min(100).max(300_000)),
  /** How long to wait for the auth service before answering 503 (default 3 s). */
  AUTH_RPC_TIMEOUT_MS: intFromEnv(3_000).pipe(z.number().min(100)),
  /** How long to wait for JetStream to store a job before answering 503 (default 3 s). */
  PUBLISH_TIMEOUT_MS: intFromEnv(3_000).pipe(z.number().min(100)),
});
export type GatewayConfig = z.infer<typeof gatewayEnv>;
