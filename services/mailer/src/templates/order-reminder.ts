import { escapeHtml, layout } from './html.ts';
import type { RenderedMail } from './magic-link.ts';

export interface OrderReminderView {
  orderId: string;
  event: string;
  tickets: number;
  /** Minor units. */
  amount: number;
  currency: string;
  /** The provider's checkout for this order. */
  link: string;
  expiresAt?: string;
}

const money = (amount: number, currency: string) => `${(amount / 100).toFixed(2)} ${currency}`;

/** The one payment reminder of an order still waiting for payment. */
export const renderOrderReminder = (view: OrderReminderView): RenderedMail => {
  const plural = view.tickets === 1 ? 'ticket' : 'tickets';
  const subject = `Your order ${view.orderId} for ${view.event} is waiting for payment`;
  const expiry = view.expiresAt ? `Unpaid, it expires at ${new Date(view.expiresAt).toUTCString()}.` : '';
  const text = `Hello,

your order ${view.orderId} of ${view.tickets} ${plural} for ${view.event} (${money(view.amount, view.currency)}) is not paid yet.

Pay here to get your tickets:

${view.link}

${expiry}
If you have paid in the meantime, ignore this email: your tickets are on their way.
`;
  const html = layout(
    subject,
    `<p>Hello,</p>
<p>your order <strong>${escapeHtml(view.orderId)}</strong> of ${view.tickets} ${plural} for <strong>${escapeHtml(view.event)}</strong> (${escapeHtml(money(view.amount, view.currency))}) is not paid yet.</p>
<p><a href="${escapeHtml(view.link)}" style="display:inline-block;padding:12px 20px;background:#2454d6;color:#fff;text-decoration:none;border-radius:6px">Pay for order ${escapeHtml(view.orderId)}</a></p>
<p style="font-size:13px;color:#555">Or paste this link into your browser:<br><a href="${escapeHtml(view.link)}">${escapeHtml(view.link)}</a></p>
<p style="font-size:13px;color:#555">${escapeHtml(expiry)} If you have paid in the meantime, ignore this email: your tickets are on their way.</p>`,
  );
  return { subject, text, html };
};
