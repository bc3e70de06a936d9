import { simpleParser, type ParsedMail } from 'mailparser';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { waitFor } from './wait.ts';

export interface ReceivedMail {
  parsed: ParsedMail;
  raw: string;
  envelope: { from: string; to: string[] };
  receivedAt: number;
}

export interface TestSmtpServer {
  /** `smtp://127.0.0.1:<port>` (no TLS, no auth): what SMTP_URL should be. */
  readonly url: string;
  readonly port: number;
  /** Messages accepted so far, in arrival order. */
  messages(): ReceivedMail[];
  /** Resolves once at least `n` messages (optionally only those matching) have arrived. */
  waitForMessages(n: number, options?: { timeoutMs?: number; match?: (mail: ReceivedMail) => boolean }): Promise<ReceivedMail[]>;
  /** On: the port stops listening (clients get ECONNREFUSED). Off: it listens again on the same port. */
  refuse(on: boolean): Promise<void>;
  /** Answers MAIL FROM with this code (4xx: try later, 5xx: rejected) until set back to null. */
  rejectWith(code: number | null, message?: string): void;
  /**
   * Keeps the reply to each message's end of data (the 250) this long after the message is
   * received and counted: a slow relay, where the client cannot know yet whether it was sent.
   */
  delayReplies(ms: number): void;
  /** Answers the next `count` MAIL FROMs with this code, then accepts again. */
  rejectNext(count: number, code: number, message?: string): void;
  /** Takes this long to answer each message's DATA: a slow provider. */
  slowDown(ms: number): void;
  /** Times (ms since epoch) at which a MAIL FROM was accepted: when each send began, as the server saw it. */
  sendsStarted(): number[];
  /** Times (ms since epoch) of every SMTP session opened so far, refused ones excluded. */
  sessions(): number[];
  stop(): Promise<void>;
}

/**
 * A real SMTP server (the `smtp-server` package) on a random port that parses every message with
 * mailparser. It can be taken down and brought back on the same port, or made to reject mail.
 */
export const startSmtpServer = async (): Promise<TestSmtpServer> => {
  const received: ReceivedMail[] = [];
  const sessionTimes: number[] = [];
  let rejection: { code: number; message: string } | null = null;
  let replyDelayMs = 0;
  let rejectCount = 0;
  let nextRejection: { code: number; message: string } = { code: 421, message: 'slow down' };
  let dataDelayMs = 0;
  const started: number[] = [];
  let port = 0;
  let server: SMTPServer | undefined;

  const listen = async () => {
    const instance = new SMTPServer({
      authOptional: true,
      disabledCommands: ['AUTH', 'STARTTLS'],
      logger: false,
      onConnect(_session, callback) {
        sessionTimes.push(Date.now());
        callback();
      },
      onMailFrom(_address, _session, callback) {
        const refusal = rejectCount > 0 ? nextRejection : rejection;
        if (rejectCount > 0) rejectCount--;
        if (!refusal) {
          started.push(Date.now());
          return callback();
        }
        const error = Object.assign(new Error(refusal.message), { responseCode: refusal.code });
        callback(error);
      },
      onData(stream, session, callback) {
        const chunks: Buffer[] = [];
        stream.on('data', (chunk: Buffer) => chunks.push(chunk));
        stream.on('end', () => {
          const raw = Buffer.concat(chunks);
          const parse = async () => {
            if (dataDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, dataDelayMs));
            return simpleParser(raw);
          };
          parse().then(
            (parsed) => {
              received.push({
                parsed,
                raw: raw.toString('utf8'),
                envelope: {
                  from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
                  to: session.envelope.rcptTo.map((r) => r.address),
                },
                receivedAt: Date.now(),
              });
              if (replyDelayMs > 0) setTimeout(() => callback(), replyDelayMs);
              else callback();
            },
            (error: Error) => callback(error),
          );
        });
      },
    });
    instance.on('error', () => undefined);
    await new Promise<void>((resolve, reject) => {
      instance.server.once('error', reject);
      instance.listen(port, '127.0.0.1', () => resolve());
    });
    port = (instance.server.address() as AddressInfo).port;
    server = instance;
  };

  const close = async () => {
    const current = server;
    server = undefined;
    if (current) await new Promise<void>((resolve) => current.close(() => resolve()));
  };

  await listen();
  return {
    get url() {
      return `smtp://127.0.0.1:${port}`;
    },
    get port() {
      return port;
    },
    messages: () => [...received],
    async waitForMessages(n, options = {}) {
      const match = options.match ?? (() => true);
      return waitFor(
        () => {
          const found = received.filter(match);
          return found.length >= n ? found : undefined;
        },
        { timeoutMs: options.timeoutMs ?? 20_000, what: `${n} email(s) at the SMTP server` },
      );
    },
    async refuse(on) {
      if (on) await close();
      else if (!server) await listen();
    },
    rejectWith(code, message = 'Rejected by test server') {
      rejection = code === null ? null : { code, message: `${message}` };
    },
    delayReplies(ms) {
      replyDelayMs = ms;
    },
    rejectNext(count, code, message = 'Rejected by test server') {
      rejectCount = count;
      nextRejection = { code, message };
    },
    slowDown(ms) {
      dataDelayMs = ms;
    },
    sendsStarted: () => [...started],
    sessions: () => [...sessionTimes],
    stop: close,
  };
};
