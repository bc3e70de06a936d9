/**
 * What the article warns against: the request handler sends the email itself over SMTP and
 * answers only when the relay accepted it. One connection per message, as nodemailer does by
 * default when nobody configured a pool.
 */
import Fastify from 'fastify';
import nodemailer from 'nodemailer';

const smtpPort = Number(process.env.BENCH_SMTP_PORT);
const transport = nodemailer.createTransport({ host: '127.0.0.1', port: smtpPort, secure: false, ignoreTLS: true });
const app = Fastify({ logger: false });
app.post<{ Body: { email?: string } }>('/auth/magic-link', async (request, reply) => {
  const email = request.body.email ?? 'nobody@example.com';
  await transport.sendMail({
    from: 'Handoff <no-reply@handoff.example>',
    to: email,
    subject: 'Your sign-in link',
    text: `Sign in: https://handoff.example/auth/verify?token=${Math.random().toString(36).slice(2)}`,
  });
  return reply.code(202).send({ status: 'accepted', message: 'If an account exists for this address, a sign-in link is on its way.' });
});
await app.listen({ port: 0, host: '127.0.0.1' });
const address = app.server.address();
process.stdout.write(`${JSON.stringify({ bench: { phase: 'ready', port: typeof address === 'object' && address ? address.port : 0 } })}\n`);
process.once('SIGTERM', () => void app.close().then(() => process.exit(0)));
