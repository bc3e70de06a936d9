import { SUBJECTS } from '#shared/contracts/subjects';
import { TICKET_IDS, ticketObjectName, type GenerateTicket, type TicketGenerated } from '#shared/contracts/tickets';
import type { JobContext } from '#shared/jobs/job';
import type { Publisher } from '#shared/nats/publish';
import type { RenderInput } from '../render-ticket.ts';
import { signTicketId } from '../ticket-code.ts';
import type { TicketStore } from '../ticket-store.ts';
import { currentTraceparent, withSpan } from '#shared/observability/tracing';

/** Renders in a child process; the signal (the runner's timeout) kills it. */
export type RenderTicket = (input: RenderInput, signal: AbortSignal) => Promise<Uint8Array>;

/**
 * `generate_ticket`: render one PDF, store it under its deterministic name, report it. A ticket
 * already stored (an earlier attempt died after the upload) is reported without rendering again.
 */
export const createGenerateTicket =
  (deps: { store: TicketStore; render: RenderTicket; publisher: Pick<Publisher, 'publish'>; signingKey: string }) =>
  async (job: GenerateTicket, ctx: Pick<JobContext, 'signal'>) => {
    const object = ticketObjectName(job.orderId, job.n);
    let size = await deps.store.size(object);
    if (size === undefined) {
      const input: RenderInput = {
        event: job.event,
        attendee: job.attendee,
        orderId: job.orderId,
        n: job.n,
        total: job.total,
        code: signTicketId(deps.signingKey, job.orderId, job.n),
      };
      const pdf = await withSpan('render ticket pdf', { 'handoff.order_id': job.orderId, 'handoff.ticket': job.n }, () =>
        deps.render(input, ctx.signal),
      );
      await deps.store.put(object, pdf);
      size = pdf.byteLength;
    }
    const trace = currentTraceparent();
    const generated: TicketGenerated = { v: 1, orderId: job.orderId, n: job.n, total: job.total, object, size, ...(trace ? { trace } : {}) };
    await deps.publisher.publish(SUBJECTS.ticketGenerated, generated, { id: TICKET_IDS.generated(job.orderId, job.n) });
  };
