import { createHmac, randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';

/** Test side of the payment processor: secrets, signed payment events, and posting them. */
export const newWebhookSecret = () => `whsec_${randomBytes(24).toString('base64')}`;

export interface SignedWebhook {
  body: string;
  headers: Record<string, string>;
}

export const paymentSucceeded = (orderId: string, amount: number, currency = 'EUR') =>
  JSON.stringify({ type: 'payment.succeeded', timestamp: new Date().toISOString(), data: { orderId, amount, currency } });

/** Signs `body` the way Standard Webhooks providers do; `at` defaults to now. */
export const signWebhook = (secret: string, id: string, body: string, at: Date = new Date()): SignedWebhook => ({
  body,
  headers: {
    'content-type': 'application/json',
    'webhook-id': id,
    'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
    'webhook-signature': new Webhook(secret).sign(id, at, body),
  },
});

/**
 * Signs exact bytes (the standard's HMAC over `id.timestamp.` and the body), for bodies a string
 * cannot carry, such as invalid UTF-8. `over` signs other bytes than the body (e.g. a lossy decoding).
 */
export const signRaw = (secret: string, id: string, body: Buffer, options: { at?: Date; over?: Buffer } = {}) => {
  const timestamp = String(Math.floor((options.at ?? new Date()).getTime() / 1000));
  const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
  const mac = createHmac('sha256', key).update(`${id}.${timestamp}.`).update(options.over ?? body).digest('base64');
  return { body, headers: { 'content-type': 'application/json', 'webhook-id': id, 'webhook-timestamp': timestamp, 'webhook-signature': `v1,${mac}` } };
};

export const postWebhook = async (baseUrl: string, hook: SignedWebhook) => {
  const res = await fetch(`${baseUrl}/webhooks/payments`, { method: 'POST', headers: hook.headers, body: hook.body });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
};
