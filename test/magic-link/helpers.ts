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

/**
 * What a person does with the emailed link: open it (GET, a page that spends nothing) and press
 * its "Sign in" button, which posts the page's form to the same origin as a browser would.
 * `base` sends both requests to another address of the same gateway. Resolves with the POST's
 * response (303 to APP_URL with the session cookie, or a failure page).
 */
export const signInWith = async (link: string, options: { base?: string; accept?: string } = {}): Promise<Response> => {
  const url = new URL(link);
  const page = await fetch(options.base ? new URL(`${url.pathname}${url.search}`, options.base) : url);
  if (page.status !== 200) throw new Error(`the sign-in page answered ${page.status}: ${await page.text()}`);
  const token = /name="token" value="([^"]+)"/.exec(await page.text())?.[1];
  if (!token) throw new Error('the sign-in page has no token field');
  const target = new URL('/auth/verify', page.url);
  return fetch(target, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      origin: target.origin,
      'sec-fetch-site': 'same-origin',
      ...(options.accept ? { accept: options.accept } : {}),
    },
    body: new URLSearchParams({ token }),
    redirect: 'manual',
  });
};

/** The `name=value` of the session cookie a response set (empty when none). */
export const sessionCookie = (response: Response): string =>
  response.headers.getSetCookie().find((c) => c.startsWith('handoff_session='))?.split(';')[0] ?? '';

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
