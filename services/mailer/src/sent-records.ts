import type { KV } from '@nats-io/kv';
import { MailSendState, type MailClaim, type SentRecord } from '#shared/contracts/mail';
import { isConflict, isLive } from '#shared/nats/kv';

const encode = (value: unknown) => JSON.stringify(value);

/**
 * The mail_sent bucket: per mail id, the claim of the mailer sending it, then its sent-record.
 * Every write names the revision it replaces, so two mailers never both hold a claim.
 */
export interface SentRecords {
  read(mailId: string): Promise<{ value: MailSendState; revision: number } | undefined>;
  /**
   * Claims the send: creates the claim, or replaces the expired claim at revision `over`.
   * Resolves with the claim's revision, or undefined when another attempt got there first.
   */
  claim(claim: MailClaim, over?: number): Promise<number | undefined>;
  /** Records the accepted mail over the claim (or over whatever is there now: the mail went out). */
  recordSent(record: SentRecord, claimRevision: number): Promise<void>;
  /** Gives the claim up after a send that did not happen; a claim since taken over is left alone. */
  release(mailId: string, claimRevision: number): Promise<void>;
}

export const createKvSentRecords = (kv: Pick<KV, 'get' | 'create' | 'update' | 'delete'>): SentRecords => {
  const read = async (mailId: string) => {
    const entry = await kv.get(mailId);
    if (!isLive(entry)) return undefined;
    return { value: MailSendState.parse(entry.json()), revision: entry.revision };
  };
  const conflictAsUndefined = (error: unknown) => {
    if (isConflict(error)) return undefined;
    throw error;
  };
  return {
    read,
    claim: (claim, over) =>
      (over === undefined ? kv.create(claim.mailId, encode(claim)) : kv.update(claim.mailId, encode(claim), over)).catch(conflictAsUndefined),
    async recordSent(record, claimRevision) {
      let revision: number | undefined = claimRevision;
      for (let tries = 0; ; tries++) {
        try {
          await (revision === undefined ? kv.create(record.mailId, encode(record)) : kv.update(record.mailId, encode(record), revision));
          return;
        } catch (error) {
          if (!isConflict(error) || tries >= 10) throw error;
        }
        // Our claim was taken over (we outlived it) or deleted: the sent-record wins all the same.
        const current = await read(record.mailId);
        if (current?.value.state === 'sent') return;
        revision = current?.revision;
      }
    },
    async release(mailId, claimRevision) {
      await kv.delete(mailId, { previousSeq: claimRevision }).catch(conflictAsUndefined);
    },
  };
};
