import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import type { ProblemCode } from '#shared/http/problems';

export type Verification = { ok: true; id: string; timestamp: string } | { ok: false; code: ProblemCode; detail: string };

export type VerifySignature = (raw: Buffer, headers: Record<string, string | string[] | undefined>) => Verification;

const header = (headers: Record<string, string | string[] | undefined>, name: string) => {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
};

/**
 * Standard Webhooks verification over the raw bytes (constant-time comparison, several `v1,`
 * signatures per header, the standard's 5-minute timestamp tolerance), tried against every
 * configured secret so a rotation needs no downtime.
 */
export const createSignatureVerifier = (secrets: readonly string[]): VerifySignature => {
  const verifiers = secrets.map((secret) => new Webhook(secret));
  return (raw, headers) => {
    const id = header(headers, 'webhook-id');
    const timestamp = header(headers, 'webhook-timestamp');
    const signature = header(headers, 'webhook-signature');
    if (!id || !timestamp || !signature) {
      return { ok: false, code: 'signature_missing', detail: 'webhook-id, webhook-timestamp and webhook-signature must all be present' };
    }
    let last = 'no secret configured';
    for (const verifier of verifiers) {
      try {
        verifier.verify(raw, { 'webhook-id': id, 'webhook-timestamp': timestamp, 'webhook-signature': signature }, { jsonParse: false });
        return { ok: true, id, timestamp };
      } catch (error) {
        if (!(error instanceof WebhookVerificationError)) throw error;
        last = error.message;
        // A stale or unparsable timestamp fails the same way for every secret.
        if (/timestamp|Invalid Signature Headers/i.test(last)) return { ok: false, code: 'timestamp_out_of_tolerance', detail: last };
      }
    }
    return { ok: false, code: 'signature_invalid', detail: last };
  };
};
