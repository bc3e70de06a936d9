import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { AttemptInfo, RunnerObserver } from './observer.ts';
import type { Metrics } from '#shared/observability/metrics';
import { extractTraceContext, tracer } from '#shared/observability/tracing';

/**
 * Traces and counts every attempt. Each attempt is a consumer span (messaging semantic
 * conventions) parented on the producer's context from the message headers, so a retried job
 * shows one span per attempt in the trace of the request that created it.
 */
export const observeAttempts = (metrics?: Metrics): RunnerObserver => ({
  attemptStarted(info: AttemptInfo) {
    metrics?.jobs.started.inc({ job: info.job });
    const parent = extractTraceContext(info.headers);
    const span = tracer().startSpan(
      `process ${info.subject}`,
      {
        kind: SpanKind.CONSUMER,
        attributes: {
          'messaging.system': 'nats',
          'messaging.operation.type': 'process',
          'messaging.operation.name': 'process',
          'messaging.destination.name': info.subject,
          'messaging.consumer.group.name': info.consumer,
          'messaging.message.id': info.jobId,
          'messaging.nats.stream': info.stream,
          'messaging.nats.stream_sequence': info.streamSeq,
          'messaging.nats.delivery_count': info.attempt,
          'handoff.job': info.job,
          'handoff.attempt': info.attempt,
        },
      },
      parent,
    );
    const spanContext = trace.setSpan(parent, span);
    return {
      run: (fn) => context.with(spanContext, fn),
      finished(outcome, reply, durationMs) {
        const job = info.job;
        metrics?.jobs.duration.observe({ job, outcome: outcome.kind }, durationMs / 1000);
        const handedBack = outcome.kind === 'interrupted' || outcome.kind === 'deferred';
        if (outcome.kind === 'ok') metrics?.jobs.succeeded.inc({ job });
        else if (outcome.kind === 'deferred') metrics?.jobs.deferred.inc({ job });
        else if (!handedBack) metrics?.jobs.failed.inc({ job });
        if (reply.kind === 'nak' && !handedBack) metrics?.jobs.retried.inc({ job });
        if (reply.kind === 'dead-letter') metrics?.jobs.deadLettered.inc({ job, reason: reply.reason });

        span.setAttribute('handoff.outcome', outcome.kind);
        span.setAttribute('handoff.reply', reply.kind);
        if (reply.kind === 'nak') span.setAttribute('handoff.retry_in_ms', reply.delayMs);
        if (outcome.kind === 'deferred') span.setAttribute('handoff.deferred', outcome.error);
        if ('error' in outcome && outcome.kind !== 'deferred') {
          span.recordException({ name: outcome.kind, message: outcome.error });
          span.setStatus({ code: SpanStatusCode.ERROR, message: outcome.error });
        }
        span.end();
      },
    };
  },
});
