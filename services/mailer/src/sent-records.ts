import type { KV } from '@nats-io/kv';
import { SentRecord } from '#shared/contracts/mail';
import type { Log } from '#shared/observability/logger';
import type { MailTransport, OutgoingMail } from './transport.ts';
import { isConflict, isLive } from '#shared/nats/kv';

export interface SentRecords {
  get(mailId: string): Promise<SentRecord | undefined>;
  /** Idempotent: a record that is already there is left as it was. */
  put(record: SentRecord): Promise<void>;
}

export const createKvSentRecords = (kv: Pick<KV, 'get' | 'create'>): SentRecords => ({
  async get(mailId) {
    const entry = await kv.get(mailId);
    if (!isLive(entry)) return undefined;
    return SentRecord.parse(entry.json());
  },
  async put(record) {
    try {
      await kv.create(record.mailId, JSON.stringify(record));
    } catch (error) {
      if (!isConflict(error)) throw error;
    }
  },
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Sends a mail at most once per mail id, as far as SMTP allows: a redelivered job whose mail was
 * already accepted finds the sent-record and stops. The one unavoidable gap is a crash between
 * the server's 250 and the record write; the resend then carries the same Message-ID.
 */
export const sendOnce = async (
  deps: { transport: MailTransport; records: SentRecords; log: Log; now?: () => number; signal?: AbortSignal },
  mailId: string,
  build: () => OutgoingMail | Promise<OutgoingMail>,
): Promise<'sent' | 'already-sent'> => {
  const previous = await deps.records.get(mailId);
  if (previous) {
    deps.log.info({ mailId, sentAt: previous.sentAt }, 'mail already sent; not sending again');
    return 'already-sent';
  }
  const mail = await build();
  const { response } = await deps.transport.send(mail, deps.signal);
  const record: SentRecord = {
    mailId,
    messageId: mail.messageId,
    sentAt: new Date((deps.now ?? Date.now)()).toISOString(),
    response,
  };
  // Failing the job now would send the mail again, which is worse than a missing record: try a
  // few times, then carry on (the job is acked and will not come back).
  for (let attempt = 1; ; attempt++) {
    try {
      await deps.records.put(record);
      break;
    } catch (error) {
      if (attempt >= 5) {
        deps.log.error({ mailId, err: error instanceof Error ? error.message : String(error) }, 'mail sent but sent-record not written');
        break;
      }
      await sleep(200 * attempt);
    }
  }
  deps.log.info({ mailId, response }, 'mail sent');
  return 'sent';
};
