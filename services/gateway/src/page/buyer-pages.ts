import { MAX_ATTENDEES } from '#shared/contracts/orders';
import type { PublicOrder } from '../order-actions.ts';
import { esc, message, money } from './html.ts';
import { fillLabel, SHORT_LABELS, STATUS_LABELS, ticketsDownloadable } from './order-labels.ts';

/**
 * The buyer's pages as HTML strings: sign in, check your inbox, the home page (order form and
 * orders), one order (status, checkout, tickets). Every form works without script; the script
 * only adds the live status and adds/removes attendee rows without a round trip.
 */
export interface Page {
  title: string;
  body: string;
}

export const signInPage = (options: { message?: string | undefined; email?: string | undefined } = {}): Page => ({
  title: 'Sign in',
  body: `<h1>Sign in</h1>
<section class="card" aria-labelledby="sign-in-heading">
<h2 id="sign-in-heading">Get a sign-in link by email</h2>
<p class="muted">No password: we email you a link that signs you in on this device.</p>
${message(options.message)}
<form method="post" action="/sign-in">
<label for="email">Email address</label>
<input type="email" id="email" name="email" autocomplete="email" required maxlength="254" value="${esc(options.email ?? '')}">
<div class="actions"><button type="submit">Email me a sign-in link</button></div>
</form>
</section>`,
});

export const checkInboxPage = (email: string): Page => ({
  title: 'Check your inbox',
  body: `<h1>Check your inbox</h1>
<section class="card">
<p role="status">If an account exists for <strong>${esc(email)}</strong>, a sign-in link is on its way.</p>
<p class="muted">Open it on this device and press <strong>Sign in</strong>. The link works once, for a short while.</p>
<p><a href="/">Use another address</a></p>
</section>`,
});

export interface OrderForm {
  event: string;
  attendees: string[];
}

const attendeeRow = (name: string, index: number, count: number) => `<li>
<label for="attendee-${index + 1}">Attendee ${index + 1}</label>
<div class="row"><input type="text" id="attendee-${index + 1}" name="attendee" required maxlength="200" autocomplete="off" value="${esc(name)}">${
  count > 1
    ? `<button type="submit" class="secondary" name="op" value="remove:${index}" formnovalidate aria-label="Remove attendee ${index + 1}">Remove</button>`
    : ''
}</div></li>`;

const orderFormSection = (form: OrderForm, problem: string | undefined) => `<section class="card" aria-labelledby="order-heading">
<h2 id="order-heading">Order tickets</h2>
${message(problem)}
<form method="post" action="/my/orders" id="order-form">
<button type="submit" name="op" value="order" class="visually-hidden" tabindex="-1" aria-hidden="true">Order tickets</button>
<label for="event">Event</label>
<input type="text" id="event" name="event" required maxlength="200" value="${esc(form.event)}">
<fieldset><legend>Attendees <span class="muted fine">(one ticket each, up to ${MAX_ATTENDEES})</span></legend>
<ol class="attendees" id="attendees">${form.attendees.map((name, i) => attendeeRow(name, i, form.attendees.length)).join('')}</ol>
<button type="submit" class="secondary" name="op" value="add" formnovalidate id="add-attendee">Add attendee</button>
</fieldset>
<div class="actions"><button type="submit" name="op" value="order">Order tickets</button><span class="muted fine">You pay on the next page.</span></div>
</form>
</section>`;

const ordersTable = (orders: PublicOrder[], nextCursor: string | null) =>
  orders.length === 0
    ? '<p class="muted">No orders yet.</p>'
    : `<table><thead><tr><th scope="col">Event</th><th scope="col" class="num">Tickets</th><th scope="col" class="num">Total</th><th scope="col">Status</th></tr></thead><tbody>${orders
        .map(
          (o) =>
            `<tr><td><a href="/my/orders/${esc(o.id)}">${esc(o.event)}</a></td><td class="num">${o.tickets.total}</td><td class="num">${esc(money(o.amount, o.currency))}</td><td>${esc(fillLabel(SHORT_LABELS, o))}</td></tr>`,
        )
        .join('')}</tbody></table>${nextCursor ? `<p><a href="/?cursor=${encodeURIComponent(nextCursor)}">Older orders</a></p>` : ''}`;

export const homePage = (options: {
  form: OrderForm;
  formProblem?: string | undefined;
  orders: PublicOrder[] | undefined;
  ordersProblem?: string | undefined;
  nextCursor: string | null;
}): Page => ({
  title: 'Your tickets',
  body: `<h1>Your tickets</h1>
${orderFormSection(options.form, options.formProblem)}
<section class="card" aria-labelledby="orders-heading">
<h2 id="orders-heading">Your orders</h2>
${options.orders ? ordersTable(options.orders, options.nextCursor) : message(options.ordersProblem)}
</section>`,
});

const ticketLinks = (order: PublicOrder) =>
  order.attendees
    .map((a, i) => `<li><a href="/orders/${esc(order.id)}/tickets/${i + 1}" download>Ticket ${i + 1} — ${esc(a.name)} (PDF)</a></li>`)
    .join('');

/** One order: its status (live with script), the way to pay, and its tickets once they exist. */
export const orderPage = (order: PublicOrder, options: { checkoutUrl: string; live: boolean; notice?: string | undefined }): Page => {
  const finishedCount = ticketsDownloadable(order.status) ? order.tickets.total : order.tickets.generated;
  return {
    title: order.event,
    body: `<p><a href="/">← All orders</a></p>
<h1>${esc(order.event)}</h1>
<p class="muted">${order.tickets.total} ticket${order.tickets.total === 1 ? '' : 's'} · ${esc(money(order.amount, order.currency))} · order <code>${esc(order.id)}</code></p>
${message(options.notice, 'info')}
<section class="card" id="order-live" aria-labelledby="status-heading" data-order="${esc(order.id)}" data-live="${options.live}" data-labels="${esc(JSON.stringify(STATUS_LABELS))}">
<h2 id="status-heading">Status</h2>
<p id="order-status" class="status status-${esc(order.status)}" role="status">${esc(fillLabel(STATUS_LABELS, order))}</p>
<progress id="order-meter" aria-label="Tickets made" max="${order.tickets.total}" value="${finishedCount}">${finishedCount} of ${order.tickets.total}</progress>
<p id="order-reason"${order.reason ? '' : ' hidden'}>${esc(order.reason ?? '')}</p>
<p id="order-pay"${order.status === 'pending_payment' ? '' : ' hidden'}><a class="button" href="${esc(options.checkoutUrl)}">Pay ${esc(money(order.amount, order.currency))}</a></p>
<div id="order-tickets"${ticketsDownloadable(order.status) ? '' : ' hidden'}><h3>Your tickets</h3><ul class="tickets" id="ticket-links">${ticketsDownloadable(order.status) ? ticketLinks(order) : ''}</ul></div>
<p id="live-note" class="muted fine">${options.live ? '<a href="">Reload</a> to see the latest status.' : 'This order is complete.'}</p>
<p id="live-problem" class="message error" role="alert" hidden></p>
</section>
<section class="card" aria-labelledby="attendees-heading">
<h2 id="attendees-heading">Attendees</h2>
<ol>${order.attendees.map((a) => `<li>${esc(a.name)}</li>`).join('')}</ol>
</section>`,
  };
};

export const problemPage = (title: string, text: string): Page => ({
  title,
  body: `<h1>${esc(title)}</h1><section class="card">${message(text)}<p><a href="/">Back to your tickets</a></p></section>`,
});
