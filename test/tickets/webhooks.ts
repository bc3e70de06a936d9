import { randomBytes } from 'node:crypto';
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

export const postWebhook = async (baseUrl: string, hook: SignedWebhook) => {
  const res = await fetch(`${baseUrl}/webhooks/payments`, { method: 'POST', headers: hook.headers, body: hook.body });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
};
