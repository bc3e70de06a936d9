import { z } from 'zod';
import { commonEnv, intFromEnv, urlFromEnv } from '#shared/config/env';
import { trustProxyFromEnv } from '#shared/config/trust-proxy';

/** Console settings. It is internal: reach it through `kubectl port-forward` or an internal ingress. */
export const consoleEnv = z.object({
  ...commonEnv,
  /** HTTP port (default 3002; 0 picks a free one, printed in the "service ready" line). */
  CONSOLE_PORT: intFromEnv(3002).pipe(z.number().max(65_535)),
  /** Interface to listen on (default 0.0.0.0). */
  CONSOLE_HOST: z.string().default('0.0.0.0'),
  /** The console's own base URL as operators open it (same-origin checks); https makes its cookie Secure. */
  CONSOLE_URL: urlFromEnv(['http:', 'https:']).default('http://localhost:3002'),
  /** The operators' secret: sign in with it, or send it as `Authorization: Bearer …`. At least 16 characters. */
  ADMIN_TOKEN: z.string({ error: 'required: the operators\' token (at least 16 characters)' }).min(16, 'must be at least 16 characters'),
  /** Which proxies in front may name the client (X-Forwarded-For): see shared/config/trust-proxy.ts. */
  TRUST_PROXY: trustProxyFromEnv,
  /** How long to wait for ticketing (orders) before a part of the page says it is unavailable (default 3 s). */
  RPC_TIMEOUT_MS: intFromEnv(3_000).pipe(z.number().min(100)),
});
export type ConsoleConfig = z.infer<typeof consoleEnv>;
