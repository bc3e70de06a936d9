import type { OrderStatus } from '#shared/contracts/orders';

type Shown = OrderStatus | 'expired';

/**
 * What a buyer reads for each status, in one place: the server renders with these and hands them
 * to the page's script (a data attribute), which renders live events with the same words.
 * `{generated}`, `{total}` are filled in from the order.
 */
export const STATUS_LABELS: Record<Shown, string> = {
  pending_payment: 'Waiting for payment',
  paid: 'Payment received — preparing {total} tickets',
  generating: 'Generating tickets: {generated} of {total}',
  ready: 'All {total} tickets are ready — emailing them to you',
  sent: 'Sent — your tickets are in your inbox and below',
  failed: 'Stopped: something went wrong',
  payment_mismatch: 'The payment did not match this order',
  expired: 'Expired — this order was not paid in time',
};

/** The short form in the list of orders. */
export const SHORT_LABELS: Record<Shown, string> = {
  pending_payment: 'Waiting for payment',
  paid: 'Paid',
  generating: 'Generating {generated}/{total}',
  ready: 'Ready',
  sent: 'Sent',
  failed: 'Failed',
  payment_mismatch: 'Payment mismatch',
  expired: 'Expired',
};

export const fillLabel = (labels: Record<string, string>, order: { status: string; tickets: { total: number; generated: number } }) =>
  (labels[order.status] ?? order.status).replaceAll('{generated}', String(order.tickets.generated)).replaceAll('{total}', String(order.tickets.total));

/** Tickets can be downloaded once every one exists. */
export const ticketsDownloadable = (status: string) => status === 'ready' || status === 'sent';
