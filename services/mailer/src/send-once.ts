import type { MailClaim, SentRecord } from '#shared/contracts/mail';
import { errorMessage } from '#shared/observability/errors';
import type { Log } from '#shared/observability/logger';
import type { SentRecords } from './sent-records.ts';
import { SmtpOutcomeUnknownError, type MailTransport, type OutgoingMail } from './transport.ts';

export interface SendOnceDeps {
  transport: MailTransport;
  records: SentRecords;
  log: Log;
  /**
   * How long a claim keeps other attempts from sending: the longest a live mailer may take from
   * its claim to the sent-record (the job's timeout, the wait for the server's answer to the
   * message, and time to write the record through a broker restart). Past it, the claimer is
   * presumed dead and another attempt sends.
   */
  claimMs: number;
  /** Who sends (host/pid), written into the claim for whoever finds it. */
  holder: string;
  now?: () => number;
  signal?: AbortSignal;
  /** How often an attempt that found another's claim looks again (default 250 ms). */
  pollMs?: number;
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason as Error);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });

const iso = (ms: number) => new Date(ms).toISOString();

/** Time a mailer has to write its sent-record after the server's 250 (a broker restart takes seconds). */
const RECORD_WITHIN_MS = 30_000;

/** `SendOnceDeps.claimMs` for a mail job: its timeout, the wait for the server's answer to the message, the record. */
export const claimMsFor = (job: { timeoutMs: number }, dataTimeoutMs: number): number => job.timeoutMs + dataTimeoutMs + RECORD_WITHIN_MS;

/**
 * Claims the send of `mailId`, or finds it sent. A claim another attempt holds (a redelivery of a
 * job that is still being sent elsewhere, or a retry racing a send that outlived its timeout) is
 * waited on, not sent beside: its holder either records the send or gives the claim back.
 */
const claimSend = async (deps: SendOnceDeps, mailId: string): Promise<{ revision: number; claim: MailClaim } | 'already-sent'> => {
  const now = deps.now ?? Date.now;
  let waitingLogged = false;
  for (;;) {
    deps.signal?.throwIfAborted();
    const current = await deps.records.read(mailId);
    if (current?.value.state === 'sent') return 'already-sent';
    if (current && Date.parse(current.value.until) > now()) {
      if (!waitingLogged) deps.log.info({ mailId, by: current.value.by, until: current.value.until }, 'mail being sent by another attempt; waiting for its outcome');
      waitingLogged = true;
      await sleep(deps.pollMs ?? 250, deps.signal);
      continue;
    }
    const at = now();
    const claim: MailClaim = { state: 'sending', mailId, claimedAt: iso(at), until: iso(at + deps.claimMs), by: deps.holder };
    const revision = await deps.records.claim(claim, current?.revision);
    if (revision === undefined) continue;
    if (current) deps.log.warn({ mailId, previous: current.value.by, until: current.value.until }, 'took over the claim of a mailer that did not finish in time; sending');
    return { revision, claim };
  }
};

/** Writes the sent-record, retrying (through a broker restart) for as long as the claim protects the mail. */
const recordSent = async (deps: SendOnceDeps, record: SentRecord, claimed: { revision: number; claim: MailClaim }) => {
  const now = deps.now ?? Date.now;
  const deadline = Date.parse(claimed.claim.until);
  for (let attempt = 1; ; attempt++) {
    try {
      await deps.records.recordSent(record, claimed.revision);
      return;
    } catch (error) {
      const delay = Math.min(200 * attempt, 2_000);
      if (now() + delay >= deadline) {
        deps.log.error({ mailId: record.mailId, err: errorMessage(error) }, 'mail sent but its sent-record not written before the claim ran out; a redelivery may send it again');
        return;
      }
      await sleep(delay);
    }
  }
};

/**
 * Sends a mail at most once per mail id, as far as SMTP allows. The send is claimed first
 * (create-if-absent in the mail_sent bucket), so a second delivery of the same job waits instead
 * of sending; the claim becomes the sent-record once the server accepted the message, and a
 * redelivery that finds it acks without sending. The gaps left are a mailer killed between the
 * server's 250 and the record (the claim expires and the mail goes again, same Message-ID) and a
 * conversation that ended without the server's reply to the message.
 */
export const sendOnce = async (deps: SendOnceDeps, mailId: string, build: () => OutgoingMail | Promise<OutgoingMail>): Promise<'sent' | 'already-sent'> => {
  const claimed = await claimSend(deps, mailId);
  if (claimed === 'already-sent') {
    deps.log.info({ mailId }, 'mail already sent; not sending again');
    return 'already-sent';
  }
  deps.log.info({ mailId }, 'mail claimed; sending');
  let mail: OutgoingMail;
  let response: string;
  try {
    mail = await build();
    // A build that outlived the attempt (a slow object store) must not send after its timeout.
    deps.signal?.throwIfAborted();
    ({ response } = await deps.transport.send(mail, deps.signal));
  } catch (error) {
    if (error instanceof SmtpOutcomeUnknownError) deps.log.warn({ mailId, err: error.message }, 'SMTP outcome unknown; the retry may deliver this mail twice');
    // Not sent (or not known to be): the next attempt may claim it.
    await deps.records.release(mailId, claimed.revision).catch((releaseError: unknown) =>
      deps.log.warn({ mailId, err: errorMessage(releaseError) }, 'mail claim not released; the next attempt waits for it to expire'),
    );
    throw error;
  }
  const record: SentRecord = { state: 'sent', mailId, messageId: mail.messageId, sentAt: iso((deps.now ?? Date.now)()), response };
  await recordSent(deps, record, claimed);
  deps.log.info({ mailId, response }, 'mail sent');
  return 'sent';
};
