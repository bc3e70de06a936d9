import { escapeHtml, layout } from './html.ts';
import type { RenderedMail } from './magic-link.ts';

export interface TicketsView {
  event: string;
  orderId: string;
  attendees: readonly string[];
}

export const renderTickets = (view: TicketsView): RenderedMail => {
  const count = view.attendees.length;
  const plural = count === 1 ? 'ticket' : 'tickets';
  const subject = `Your ${plural} for ${view.event}`;
  const list = view.attendees.map((name, i) => `  ${i + 1}. ${name}`).join('\n');
  const text = `Hello,

Your ${count} ${plural} for ${view.event} (order ${view.orderId}) are attached as PDF files, one per attendee:

${list}

Show the QR code on each ticket at the entrance, printed or on screen.
`;
  const html = layout(
    subject,
    `<p>Hello,</p>
<p>Your ${count} ${plural} for <strong>${escapeHtml(view.event)}</strong> (order ${escapeHtml(view.orderId)}) are attached as PDF files, one per attendee:</p>
<ol>${view.attendees.map((name) => `<li>${escapeHtml(name)}</li>`).join('')}</ol>
<p style="font-size:13px;color:#555">Show the QR code on each ticket at the entrance, printed or on screen.</p>`,
  );
  return { subject, text, html };
};
