import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { fileURLToPath } from 'node:url';
import { STREAMS } from '#shared/contracts/streams';
import { startProcess } from '../process.ts';
import type { ReceivedMail } from '../smtp-server.ts';
import { waitFor } from '../wait.ts';

export const CLI = fileURLToPath(new URL('../../services/cli/main.ts', import.meta.url));

/** Runs `npm run cli -- …` as its own process; resolves with its exit code and output. */
export const runCli = async (args: string[], env: Record<string, string>) => {
  const proc = startProcess(CLI, { args, env });
  const code = await proc.exited;
  return { code, output: proc.output() };
};

export const uniqueEmail = (label: string) =>
  `${label}.${Date.now().toString(36)}${Math.random().toString(36).slice(2, 7)}@example.test`;

export const linkIn = (mail: ReceivedMail): string => {
  const match = /https?:\/\/\S+\/auth\/verify\?token=[A-Za-z0-9_-]+/.exec(mail.parsed.text ?? '');
  if (!match) throw new Error(`no magic link in the email text:\n${mail.parsed.text}`);
  return match[0];
};

export const tokenOf = (link: string): string => new URL(link).searchParams.get('token') ?? '';

export const to = (email: string) => (mail: ReceivedMail) => mail.envelope.to.includes(email);

export interface Inspector {
  nc: NatsConnection;
  jsm: JetStreamManager;
  /** Waits until the AUTH and MAIL work queues are empty: every job acked or dead-lettered. */
  queuesDrained(): Promise<void>;
  streamMessages(stream: string): Promise<number>;
  close(): Promise<void>;
}

export const inspect = async (url: string): Promise<Inspector> => {
  const nc = await connect({ servers: url });
  const jsm = await jetstreamManager(nc);
  const streamMessages = async (stream: string) => {
    try {
      return (await jsm.streams.info(stream)).state.messages;
    } catch {
      return 0;
    }
  };
  return {
    nc,
    jsm,
    streamMessages,
    async queuesDrained() {
      // Work-queue streams drop a message only on ack (or term): empty means nothing left to do.
      await waitFor(async () => (await streamMessages(STREAMS.AUTH.name)) === 0 && (await streamMessages(STREAMS.MAIL.name)) === 0, {
        timeoutMs: 30_000,
        what: 'AUTH and MAIL work queues to drain',
      });
    },
    close: () => nc.close(),
  };
};
