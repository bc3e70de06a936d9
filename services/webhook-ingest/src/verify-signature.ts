import { createHmac, timingSafeEqual } from 'node:crypto';
import type { ProblemCode } from '#shared/http/problems';

export type Verification = { ok: true; id: string; timestamp: string } | { ok: false; code: ProblemCode; detail: string };

export type VerifySignature = (raw: Buffer, headers: Record<string, string | string[] | undefined>) => Verification;

/** The Standard Webhooks tolerance, both ways: a captured request cannot be replayed later. */
export const TOLERANCE_SECONDS = 5 * 60;
/** Whole seconds since the epoch, nothing else (`1700000000junk` is not a timestamp). */
const TIMESTAMP = /^[0-9]{1,12}$/;
const SECRET_PREFIX = 'whsec_';

/** The key bytes of a `whsec_<base64>` secret. */
export const secretKey = (secret: string): Buffer => Buffer.from(secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret, 'base64');

const header = (headers: Record<string, string | string[] | undefined>, name: string) => {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
};

/**
 * The `v1,` signatures of the header (space separated; other versions are ignored), as the exact
 * base64 text sent: compared as text, so a signature with its padding cut off is not accepted by a
 * lenient base64 decoder.
 */
const v1Signatures = (value: string): Buffer[] =>
  value
    .split(' ')
    .filter((part) => part.startsWith('v1,'))
    .map((part) => Buffer.from(part.slice(3)));

/**
 * Standard Webhooks verification done here rather than by a library, so that it is exactly what
 * the contract says: HMAC-SHA256 over `id.timestamp.` and the body's exact bytes (never a decoded
 * string: a body that is not valid UTF-8 would verify over a lossy decoding), a timestamp of
 * digits only within the tolerance, constant-time comparison of every `v1,` signature, and every
 * configured secret tried so a key rotation needs no downtime.
 */
export const createSignatureVerifier = (secrets: readonly string[], now: () => number = Date.now): VerifySignature => {
  const keys = secrets.map(secretKey);
  return (raw, headers) => {
    const id = header(headers, 'webhook-id');
    const timestamp = header(headers, 'webhook-timestamp');
    const signature = header(headers, 'webhook-signature');
    if (!id || !timestamp || !signature) {
      return { ok: false, code: 'signature_missing', detail: 'webhook-id, webhook-timestamp and webhook-signature must all be present' };
    }
    if (!TIMESTAMP.test(timestamp)) return { ok: false, code: 'timestamp_invalid', detail: 'webhook-timestamp must be whole seconds since the epoch, digits only' };
    const skew = Math.floor(now() / 1000) - Number(timestamp);
    if (Math.abs(skew) > TOLERANCE_SECONDS) {
      return { ok: false, code: 'timestamp_out_of_tolerance', detail: `the timestamp is ${Math.abs(skew)} s ${skew > 0 ? 'old' : 'in the future'}; at most ${TOLERANCE_SECONDS} s are accepted` };
    }
    const candidates = v1Signatures(signature);
    for (const key of keys) {
      const expected = Buffer.from(createHmac('sha256', key).update(`${id}.${timestamp}.`).update(raw).digest('base64'));
      if (candidates.some((given) => given.length === expected.length && timingSafeEqual(given, expected))) return { ok: true, id, timestamp };
    }
    return { ok: false, code: 'signature_invalid', detail: 'no v1 signature matches the body with any configured secret' };
  };
};
