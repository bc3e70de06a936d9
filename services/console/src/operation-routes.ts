import { randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import { HttpProblem } from '#shared/http/problems';
import { isForever, UnknownQueueError } from '#shared/jobs/queue-control';
import { errorMessage } from '#shared/observability/errors';
import type { Log } from '#shared/observability/logger';
import type { AdminData } from './console-data.ts';
import type { AdminAuth } from './operator-auth.ts';
import { jobPage } from './pages.ts';
import { queuesFragment } from './queues-fragment.ts';

const QueueQuery = z.object({ name: z.string().trim().min(1).max(300) });
const JobQuery = z.object({ id: z.string().trim().min(1).max(300) });

type Html = (reply: FastifyReply, nonce: string, status: number, body: string) => FastifyReply;

/** What operators do beyond looking: a job's page, pause and resume (issue 17). */
export const registerOperationRoutes = (admin: FastifyInstance, deps: { data: AdminData; log: Log; html: Html }, auth: Pick<AdminAuth, 'require' | 'requireForWrite'>) => {
  const { html } = deps;
  admin.get('/jobs', { preHandler: auth.require }, async (request, reply) => {
    const query = JobQuery.safeParse(request.query);
    if (!query.success) throw new HttpProblem('invalid_request', 'Give a job id: /jobs?id=…');
    const story = await deps.data.jobStory(query.data.id);
    if (request.headers.accept?.includes('application/json')) {
      if (!story) throw new HttpProblem('not_found', `No job ${query.data.id}: no worker has started it in the last 7 days.`);
      return story;
    }
    const nonce = randomBytes(16).toString('base64');
    return html(reply, nonce, story ? 200 : 404, jobPage(query.data.id, story, nonce));
  });

  // Pause and resume: a stream (every consumer on it) or `STREAM/CONSUMER`.
  for (const verb of ['pause', 'resume'] as const) {
    admin.post(`/queues/${verb}`, { preHandler: auth.requireForWrite }, async (request, reply) => {
      const query = QueueQuery.safeParse(request.query);
      if (!query.success) throw new HttpProblem('invalid_request', 'Name a stream or STREAM/CONSUMER: ?name=…');
      const { name } = query.data;
      let message: string;
      try {
        if (verb === 'pause') {
          const result = await deps.data.pause(name);
          const until = result.until && !isForever(result.until) ? ` until ${result.until}` : ' until resumed';
          message = `Paused ${name}${until}: ${result.how === 'server' ? 'the server delivers nothing' : 'the workers stopped pulling'}; every job stays in its queue.`;
        } else {
          const result = await deps.data.resume(name);
          message = result.stillPausedByStream
            ? `Resumed ${name}, but the whole stream ${result.target.stream} is still paused.`
            : `Resumed ${name}: its jobs are delivered again, in order.`;
        }
      } catch (error) {
        if (error instanceof UnknownQueueError) throw new HttpProblem('not_found', error.message);
        throw error;
      }
      deps.log.info({ queue: name, action: verb }, `queue ${verb}d from the dashboard`);
      if (request.headers.accept?.includes('application/json')) {
        const queues = await deps.data.queues().then(
          (rows) => queuesFragment({ ok: true, rows }),
          (error: unknown) => queuesFragment({ ok: false, message: `queue statistics unavailable: ${errorMessage(error)}` }),
        );
        return { ok: true, name, action: verb, message, queues };
      }
      return reply.redirect(`/?done=${encodeURIComponent(message)}`, 303);
    });
  }
};
