/**
 * The honest baseline of the accept path: fastify answering 202 only after JetStream stored one
 * message (its PubAck) in the same stream and subject as the gateway's job. No validation, no
 * limits, no headers, no tracing: what any durable accept path pays at least, one round trip each.
 */
import { jetstream } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import Fastify from 'fastify';
import { SUBJECTS } from '#shared/contracts/subjects';

const nc = await connect({ servers: process.env.NATS_URL, noAsyncTraces: true });
const js = jetstream(nc);
const app = Fastify({ logger: false });
app.post<{ Body: unknown }>('/auth/magic-link', async (request, reply) => {
  await js.publish(SUBJECTS.magicLinkRequested, JSON.stringify(request.body));
  return reply.code(202).send({ status: 'accepted', message: 'If an account exists for this address, a sign-in link is on its way.' });
});
await app.listen({ port: 0, host: '127.0.0.1' });
const address = app.server.address();
process.stdout.write(`${JSON.stringify({ bench: { phase: 'ready', port: typeof address === 'object' && address ? address.port : 0 } })}\n`);
process.once('SIGTERM', () => void app.close().then(() => nc.close()).then(() => process.exit(0)));
