import { SUBJECTS } from '#shared/contracts/subjects';
import { TICKET_IDS, ticketObjectName, type GenerateTicket, type TicketGenerated } from '#shared/contracts/tickets';
import type { JobContext } from '#shared/jobs/runner';
import type { Publisher } from '#shared/nats/publish';
import type { RenderInput } from '../render-ticket.ts';
import { faultFor } from '../test-faults.ts';
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
  (deps: { store: TicketStore; render: RenderTicket; publisher: Pick<Publisher, 'publish'>; signingKey: string; testFaults: boolean }) =>
  async (job: GenerateTicket, ctx: Pick<JobContext, 'attempt' | 'signal' | 'log'>) => {
    const object = ticketObjectName(job.orderId, job.n);
    let size = await deps.store.size(object);
    if (size === undefined) {
      const fault = faultFor(deps.testFaults, job.attendee, ctx.attempt);
      if (fault === 'fail') throw new Error(`TEST FAULT: rendering ticket ${job.n} of order ${job.orderId} failed on attempt ${ctx.attempt}`);
      const input: RenderInput = {
        event: job.event,
        attendee: job.attendee,
        orderId: job.orderId,
        n: job.n,
        total: job.total,
        code: signTicketId(deps.signingKey, job.orderId, job.n),
        ...(fault === 'hang' ? { hang: true } : {}),
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
