import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * The metrics of one service process, exposed as Prometheus text on /metrics. Built once in
 * main.ts and handed to what records into it; no global registry.
 */
export interface Metrics {
  registry: Registry;
  jobs: {
    started: Counter<'job'>;
    succeeded: Counter<'job'>;
    retried: Counter<'job'>;
    failed: Counter<'job'>;
    deferred: Counter<'job'>;
    deadLettered: Counter<'job' | 'reason'>;
    duration: Histogram<'job' | 'outcome'>;
  };
  http: {
    requests: Counter<'route' | 'method' | 'status'>;
    duration: Histogram<'route' | 'method'>;
  };
  consumers: {
    pending: Gauge<'stream' | 'consumer'>;
    ackPending: Gauge<'stream' | 'consumer'>;
    redelivered: Gauge<'stream' | 'consumer'>;
  };
  render(): Promise<string>;
}

/** Consumer state read on each scrape (the jobs runtime supplies it: see shared/jobs/consumer-sampler.ts). */
export type ConsumerSampler = () => Promise<Array<{ stream: string; consumer: string; pending: number; ackPending: number; redelivered: number }>>;

export const createMetrics = (options: { service: string; sampleConsumers?: ConsumerSampler }): Metrics => {
  const registry = new Registry();
  registry.setDefaultLabels({ service: options.service });
  collectDefaultMetrics({ register: registry });
  const registers = [registry];
  const seconds = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
  const consumers = {
    pending: new Gauge({ name: 'handoff_consumer_pending', help: 'Messages not yet delivered to the consumer', labelNames: ['stream', 'consumer'] as const, registers }),
    ackPending: new Gauge({ name: 'handoff_consumer_ack_pending', help: 'Delivered messages not yet acknowledged', labelNames: ['stream', 'consumer'] as const, registers }),
    redelivered: new Gauge({ name: 'handoff_consumer_redelivered', help: 'Messages redelivered at least once and not yet acknowledged', labelNames: ['stream', 'consumer'] as const, registers }),
  };
  const metrics: Metrics = {
    registry,
    jobs: {
      started: new Counter({ name: 'handoff_jobs_started_total', help: 'Job attempts started', labelNames: ['job'] as const, registers }),
      succeeded: new Counter({ name: 'handoff_jobs_succeeded_total', help: 'Jobs completed', labelNames: ['job'] as const, registers }),
      retried: new Counter({ name: 'handoff_jobs_retried_total', help: 'Attempts that failed and will be retried', labelNames: ['job'] as const, registers }),
      failed: new Counter({ name: 'handoff_jobs_failed_total', help: 'Attempts that failed (retried or not)', labelNames: ['job'] as const, registers }),
      deferred: new Counter({ name: 'handoff_jobs_deferred_total', help: 'Deliveries sent back to wait (the provider said slow down, no send slot in time); not attempts', labelNames: ['job'] as const, registers }),
      deadLettered: new Counter({ name: 'handoff_jobs_dead_lettered_total', help: 'Jobs moved to the dead-letter stream', labelNames: ['job', 'reason'] as const, registers }),
      duration: new Histogram({ name: 'handoff_job_duration_seconds', help: 'Duration of job attempts', labelNames: ['job', 'outcome'] as const, buckets: seconds, registers }),
    },
    http: {
      requests: new Counter({ name: 'handoff_http_requests_total', help: 'HTTP requests by route and status', labelNames: ['route', 'method', 'status'] as const, registers }),
      duration: new Histogram({ name: 'handoff_http_request_duration_seconds', help: 'HTTP request latency', labelNames: ['route', 'method'] as const, buckets: seconds, registers }),
    },
    consumers,
    async render() {
      if (options.sampleConsumers) {
        try {
          for (const c of await options.sampleConsumers()) {
            const labels = { stream: c.stream, consumer: c.consumer };
            consumers.pending.set(labels, c.pending);
            consumers.ackPending.set(labels, c.ackPending);
            consumers.redelivered.set(labels, c.redelivered);
          }
        } catch {
          // NATS unreachable: serve the process metrics anyway; readiness reports the outage.
        }
      }
      return registry.metrics();
    },
  };
  return metrics;
};
