import { simpleParser } from 'mailparser';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

/** What the chaos report needs of one accepted email; attachments are counted, not kept (memory). */
export interface ChaosMail {
  messageId: string;
  to: string[];
  subject: string;
  text: string;
  attachments: number;
  receivedAt: number;
}

export interface ChaosSmtpServer {
  readonly url: string;
  mails(): ChaosMail[];
  /** On: the listener closes (ECONNREFUSED) while open sessions finish. Off: it listens again on the same port. */
  refuse(on: boolean): Promise<void>;
  /**
   * Was a send in progress at `at`: an SMTP session open then, or closed less than `graceMs` before
   * (the mailer writes its sent-record just after the session ends — a kill there resends too).
   */
  sendInProgressAt(at: number, graceMs?: number): boolean;
  stop(): Promise<void>;
}

/**
 * A real SMTP server (the `smtp-server` package) that tracks when every session opens and closes,
 * which test/smtp-server.ts does not: the chaos verdict allows a duplicate email only for a mailer
 * kill that hit a send in progress, and the open sessions are how it knows (the mailer opens one
 * connection per message, see services/mailer/src/transport.ts).
 */
export const startChaosSmtpServer = async (): Promise<ChaosSmtpServer> => {
  const received: ChaosMail[] = [];
  const open = new Map<string, number>();
  const closed: Array<{ from: number; to: number }> = [];
  let port = 0;
  let server: SMTPServer | undefined;

  const listen = async () => {
    const instance = new SMTPServer({
      authOptional: true,
      disabledCommands: ['AUTH', 'STARTTLS'],
      logger: false,
      size: 50 * 1024 * 1024,
      onConnect(session, callback) {
        open.set(session.id, Date.now());
        callback();
      },
      onClose(session) {
        const from = open.get(session.id);
        open.delete(session.id);
        if (from !== undefined) closed.push({ from, to: Date.now() });
      },
      onData(stream, _session, callback) {
        const chunks: Buffer[] = [];
        stream.on('data', (chunk: Buffer) => chunks.push(chunk));
        stream.on('end', () => {
          simpleParser(Buffer.concat(chunks)).then(
            (parsed) => {
              const to = [parsed.to ?? []].flat().flatMap((a) => a.value.map((v) => (v.address ?? '').toLowerCase()));
              received.push({
                messageId: parsed.messageId ?? '',
                to,
                subject: parsed.subject ?? '',
                text: parsed.text ?? '',
                attachments: parsed.attachments.length,
                receivedAt: Date.now(),
              });
              callback();
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

  const close = () => {
    const current = server;
    server = undefined;
    // Not awaited: close() waits for open sessions, but the port stops accepting at once.
    if (current) current.close(() => undefined);
  };

  await listen();
  return {
    get url() {
      return `smtp://127.0.0.1:${port}`;
    },
    mails: () => [...received],
    async refuse(on) {
      if (on) close();
      else if (!server) await listen();
    },
    sendInProgressAt(at, graceMs = 1_500) {
      for (const from of open.values()) if (from <= at) return true;
      return closed.some((s) => s.from <= at && s.to >= at - graceMs);
    },
    async stop() {
      close();
    },
  };
};
