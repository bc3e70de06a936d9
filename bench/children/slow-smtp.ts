/**
 * An SMTP server that takes BENCH_SMTP_DELAY_MS (200 ms) to accept each message, like a remote
 * relay under load: the dependency the naive handler makes every HTTP client wait for.
 */
import { SMTPServer } from 'smtp-server';

const delayMs = Number(process.env.BENCH_SMTP_DELAY_MS ?? 200);
const server = new SMTPServer({
  authOptional: true,
  disabledCommands: ['STARTTLS', 'AUTH'],
  logger: false,
  onData(stream, _session, callback) {
    stream.on('end', () => setTimeout(callback, delayMs));
    stream.resume();
  },
});
server.on('error', () => undefined);
server.listen(0, '127.0.0.1', () => {
  const address = server.server.address();
  process.stdout.write(`${JSON.stringify({ bench: { phase: 'ready', port: typeof address === 'object' && address ? address.port : 0 } })}\n`);
});
process.once('SIGTERM', () => server.close(() => process.exit(0)));
