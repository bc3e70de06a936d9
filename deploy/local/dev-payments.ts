import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';

/**
 * The payment provider `npm start` runs when PAYMENT_CHECKOUT_URL is unset: a hosted checkout
 * like a real processor's. The buyer page links to `GET /checkout?order=&amount=&currency=
 * &description=&return=`; the page shows the amount and a **Pay** button, whose post sends a
 * `payment.succeeded` webhook signed per Standard Webhooks with the shop's WEBHOOK_SECRET to
 * webhook-ingest, and on its `200` sends the buyer back to `return`. Development only: no
 * money, no auth, loopback only; it pays whatever amount the link names (the shop checks it:
 * a wrong amount ends as `payment_mismatch`).
 */
export interface DevPayments {
  /** What the gateway's PAYMENT_CHECKOUT_URL is set to. */
  checkoutUrl: string;
  close(): Promise<void>;
}

export interface DevPaymentsOptions {
  port: number;
  host?: string;
  /** webhook-ingest's `POST /webhooks/payments`. */
  webhookUrl: string;
  webhookSecret: string;
  /** Origins a checkout may return the buyer to (the shop's PUBLIC_URL): no open redirect. */
  returnOrigins: readonly string[];
}

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

const CSS = `body{margin:0;font:16px/1.5 system-ui,sans-serif;background:#eef1f5;color:#1d2430;display:flex;justify-content:center}
main{margin:3rem 1rem;max-width:26rem;width:100%;background:#fff;border-radius:12px;border:1px solid #d9dee6;padding:1.8rem 2rem}
.badge{display:inline-block;font-size:.75rem;font-weight:700;letter-spacing:.05em;text-transform:uppercase;background:#fff3cd;color:#7a5a00;border-radius:4px;padding:.1rem .45rem}
h1{font-size:1.3rem;margin:.6rem 0 .2rem}.amount{font-size:2rem;font-weight:700;margin:.4rem 0 1rem}.muted{color:#5b6775}
button{font:inherit;font-weight:700;width:100%;border:0;border-radius:8px;padding:.8rem;background:#635bff;color:#fff;cursor:pointer}
.error{background:#fdecec;color:#8a1c1c;border-radius:8px;padding:.7rem .9rem}a{color:#3d35c9}`;

interface Checkout {
  order: string;
  amount: number;
  currency: string;
  description: string;
  return: URL;
  /** One id per checkout: pressing Pay twice sends the same webhook id, which the shop dedupes. */
  payment: string;
}

const money = (amount: number, currency: string) => {
  try {
    return new Intl.NumberFormat('en', { style: 'currency', currency }).format(amount / 100);
  } catch {
    return `${(amount / 100).toFixed(2)} ${currency}`;
  }
};

const readForm = (req: IncomingMessage) =>
  new Promise<URLSearchParams>((resolve, reject) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => {
      body += chunk;
      if (body.length > 8_192) req.destroy(new Error('form too large'));
    });
    req.on('end', () => resolve(new URLSearchParams(body)));
    req.on('error', reject);
  });

export const startDevPayments = async (options: DevPaymentsOptions): Promise<DevPayments> => {
  const host = options.host ?? '127.0.0.1';
  const returnOrigins = new Set(options.returnOrigins.map((u) => new URL(u).origin));
  const webhook = new Webhook(options.webhookSecret);

  const page = (res: ServerResponse, status: number, title: string, body: string) => {
    res.writeHead(status, {
      'content-type': 'text/html; charset=utf-8',
      'cache-control': 'no-store',
      // The Pay form posts here and is then redirected back to the shop: both must be allowed.
      'content-security-policy': `default-src 'none'; style-src 'unsafe-inline'; form-action 'self' ${[...returnOrigins].join(' ')}; frame-ancestors 'none'; base-uri 'none'`,
      'x-frame-options': 'DENY',
    });
    res.end(`<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${esc(title)}</title><style>${CSS}</style></head><body><main>${body}</main></body></html>`);
  };

  /** A checkout from query or form fields, or the reason it is not one. */
  const checkout = (fields: URLSearchParams): Checkout | string => {
    const order = fields.get('order') ?? '';
    const amount = Number(fields.get('amount'));
    const currency = (fields.get('currency') ?? '').toUpperCase();
    if (!/^ord_[a-z0-9]{1,40}$/.test(order)) return 'The checkout link names no valid order.';
    if (!Number.isInteger(amount) || amount <= 0) return 'The checkout link names no valid amount.';
    if (!/^[A-Z]{3}$/.test(currency)) return 'The checkout link names no valid currency.';
    let back: URL;
    try {
      back = new URL(fields.get('return') ?? '');
    } catch {
      return 'The checkout link has no return address.';
    }
    if (!returnOrigins.has(back.origin)) return `This provider returns buyers to ${[...returnOrigins].join(', ')} only.`;
    const payment = fields.get('payment') ?? `pay_${randomBytes(12).toString('hex')}`;
    if (!/^pay_[a-f0-9]{24}$/.test(payment)) return 'The payment id is not one this provider made.';
    return { order, amount, currency, description: (fields.get('description') ?? '').slice(0, 200), return: back, payment };
  };

  const checkoutPage = (res: ServerResponse, c: Checkout, problem?: string) =>
    page(
      res,
      problem ? 502 : 200,
      'Dev checkout',
      `<span class="badge">Dev payment provider · no real money</span>
<h1>${esc(c.description || 'Your order')}</h1>
<p class="muted">Order ${esc(c.order)}</p>
<p class="amount">${esc(money(c.amount, c.currency))}</p>
${problem ? `<p class="error" role="alert">${esc(problem)}</p>` : ''}
<form method="post" action="/checkout">
${(['order', 'currency', 'description', 'payment'] as const).map((name) => `<input type="hidden" name="${name}" value="${esc(String(c[name]))}">`).join('\n')}
<input type="hidden" name="amount" value="${c.amount}"><input type="hidden" name="return" value="${esc(c.return.toString())}">
<button type="submit">Pay ${esc(money(c.amount, c.currency))}</button>
</form>
<p class="muted"><a href="${esc(c.return.toString())}">Cancel and go back to the shop</a></p>`,
    );

  /** The provider's side of the contract: a signed payment.succeeded, answered 2xx once stored. */
  const notify = async (c: Checkout): Promise<string | undefined> => {
    const body = JSON.stringify({ type: 'payment.succeeded', timestamp: new Date().toISOString(), data: { orderId: c.order, amount: c.amount, currency: c.currency } });
    const id = `evt_${c.payment}`;
    const at = new Date();
    try {
      const answer = await fetch(options.webhookUrl, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'webhook-id': id,
          'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
          'webhook-signature': webhook.sign(id, at, body),
        },
        body,
        signal: AbortSignal.timeout(10_000),
      });
      if (answer.ok) return undefined;
      const text = await answer.text();
      let detail = text.slice(0, 300);
      try {
        const problem = JSON.parse(text) as { detail?: string; title?: string };
        detail = problem.detail ?? problem.title ?? detail;
      } catch {
        // not JSON: the start of the body says enough
      }
      return `The shop did not accept the payment notification (HTTP ${answer.status}: ${detail}). Nothing was charged; press Pay to try again.`;
    } catch (error) {
      return `The shop could not be reached (${error instanceof Error ? error.message : String(error)}). Nothing was charged; press Pay to try again.`;
    }
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://payments');
    if (url.pathname !== '/checkout') return page(res, 404, 'Not found', '<h1>Not found</h1><p>Checkouts live at /checkout.</p>');
    if (req.method === 'GET') {
      const c = checkout(url.searchParams);
      return typeof c === 'string' ? page(res, 400, 'Checkout', `<h1>This checkout cannot start</h1><p class="error" role="alert">${esc(c)}</p>`) : checkoutPage(res, c);
    }
    if (req.method !== 'POST') return page(res, 405, 'Checkout', '<h1>Method not allowed</h1>');
    const c = checkout(await readForm(req));
    if (typeof c === 'string') return page(res, 400, 'Checkout', `<h1>This payment cannot go ahead</h1><p class="error" role="alert">${esc(c)}</p>`);
    const problem = await notify(c);
    if (problem) return checkoutPage(res, c, problem);
    res.writeHead(303, { location: c.return.toString(), 'cache-control': 'no-store' }).end();
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) page(res, 500, 'Error', `<h1>Something went wrong</h1><p>${esc(error instanceof Error ? error.message : String(error))}</p>`);
      else res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    checkoutUrl: `http://${host}:${port}/checkout`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
};
