/** The accept path's ceiling: fastify answering 202 with the gateway's body, doing nothing else. */
import Fastify from 'fastify';

const app = Fastify({ logger: false });
app.post('/auth/magic-link', async (_request, reply) =>
  reply.code(202).send({ status: 'accepted', message: 'If an account exists for this address, a sign-in link is on its way.' }),
);
await app.listen({ port: 0, host: '127.0.0.1' });
const address = app.server.address();
process.stdout.write(`${JSON.stringify({ bench: { phase: 'ready', port: typeof address === 'object' && address ? address.port : 0 } })}\n`);
process.once('SIGTERM', () => void app.close().then(() => process.exit(0)));
