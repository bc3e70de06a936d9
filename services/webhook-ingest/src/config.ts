import { z } from 'zod';
import { commonEnv, intFromEnv } from '#shared/config/env';
import { secretKey } from './verify-signature.ts';

const SECRET = /^whsec_[A-Za-z0-9+/=]+$/;
/** Standard Webhooks recommends 24 to 64 random bytes; a shorter key is guessable offline from one signed event. */
export const MIN_SECRET_BYTES = 24;

/**
 * Settings of webhook-ingest. `WEBHOOK_SECRET` holds one or more Standard Webhooks secrets
 * separated by spaces or commas: during a key rotation both the old and the new one verify.
 */
export const ingestEnv = z.object({
  ...commonEnv,
  /** Port of the public HTTP endpoint. */
  WEBHOOK_PORT: intFromEnv(3001),
  /** Interface to listen on. */
  WEBHOOK_HOST: z.string().default('0.0.0.0'),
  WEBHOOK_SECRET: z
    .string({ error: 'required: the Standard Webhooks secret (whsec_…)' })
    .transform((value) => value.split(/[\s,]+/).filter(Boolean))
    .refine((secrets) => secrets.length > 0 && secrets.every((s) => SECRET.test(s)), 'must be one or more whsec_<base64> secrets')
    .refine(
      (secrets) => secrets.every((s) => secretKey(s).length >= MIN_SECRET_BYTES),
      `every secret must decode to at least ${MIN_SECRET_BYTES} bytes (whsec_ + the base64 of ${MIN_SECRET_BYTES}+ random bytes)`,
    ),
  /** How long the endpoint waits for JetStream to store an event before answering 503. */
  WEBHOOK_PUBLISH_TIMEOUT_MS: intFromEnv(5_000),
});
export type IngestConfig = Readonly<z.infer<typeof ingestEnv>>;
