import { ORDERS_RPC, type OrderView } from '#shared/contracts/orders';
import { createRpcClient, RpcUnavailableError } from '#shared/nats/rpc';
import { parseArgs, UsageError, type Command } from '../dispatch.ts';

const money = (amount: number, currency: string) => `${(amount / 100).toFixed(2)} ${currency}`;

export const formatOrder = (order: OrderView): string[] => [
  `order     ${order.id}`,
  `status    ${order.status}${order.status === 'generating' ? ` (${order.tickets.generated} of ${order.tickets.total})` : ''}`,
  ...(order.reason ? [`reason    ${order.reason}`] : []),
  `event     ${order.event}`,
  `buyer     ${order.email} (user ${order.userId})`,
  `amount    ${money(order.amount, order.currency)}`,
  `tickets   ${order.tickets.generated} of ${order.tickets.total} generated`,
  ...order.attendees.map((a, i) => `  ${String(i + 1).padStart(3)}. ${a.name}`),
  ...(order.paymentEventId ? [`payment   ${order.paymentEventId}`] : []),
  `created   ${order.createdAt}`,
  `updated   ${order.updatedAt}`,
  ...(order.expiresAt && order.status === 'pending_payment' ? [`expires   ${order.expiresAt} unless paid`] : []),
  ...(order.remindedAt ? [`reminded  ${order.remindedAt}`] : []),
  ...(order.history?.length ? ['history', ...order.history.map((h) => `  ${h.at}  ${h.status}${h.reason ? ` (${h.reason})` : ''}`)] : []),
];

/** Orders belong to ticketing, so the CLI asks it over request/reply like the gateway does. */
export const ordersShow: Command = {
  path: ['orders', 'show'],
  usage: 'orders show ID [--format text|json]',
  summary: 'show an order: status, reason, ticket progress, attendees',
  async run(args, ctx) {
    const { positional, flags } = parseArgs(args, ['format']);
    if (positional.length !== 1) throw new UsageError(positional.length === 0 ? 'missing ID' : `unexpected argument: ${positional[1]}`);
    const format = flags.format ?? 'text';
    if (format !== 'text' && format !== 'json') throw new UsageError('--format must be text or json');
    const nc = await ctx.nats();
    let reply;
    try {
      reply = await createRpcClient(nc, { timeoutMs: 5_000 }).call(ORDERS_RPC.get, { orderId: positional[0] ?? '' });
    } catch (error) {
      if (error instanceof RpcUnavailableError) {
        ctx.err(`error: the ticketing service did not answer on ${ORDERS_RPC.get.subject}; is it running? (npm run service -- ticketing)`);
        return 1;
      }
      throw error;
    }
    if (!reply.ok) {
      ctx.err(`error: ${reply.message}`);
      return 1;
    }
    if (format === 'json') ctx.out(JSON.stringify(reply.order, null, 2));
    else for (const line of formatOrder(reply.order)) ctx.out(line);
    return 0;
  },
};
