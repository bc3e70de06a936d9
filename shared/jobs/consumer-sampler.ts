import type { JetStreamManager } from '@nats-io/jetstream';
import type { ConsumerSampler } from '#shared/observability/metrics';

/** Samples the consumers of the given jobs (a service's own) on each metrics scrape. */
export const consumerSampler =
  (jsm: Pick<JetStreamManager, 'consumers'>, jobs: ReadonlyArray<{ stream: string; consumer: string }>): ConsumerSampler =>
  async () =>
    Promise.all(
      jobs.map(async (job) => {
        const info = await jsm.consumers.info(job.stream, job.consumer);
        return { stream: job.stream, consumer: job.consumer, pending: info.num_pending, ackPending: info.num_ack_pending, redelivered: info.num_redelivered };
      }),
    );
