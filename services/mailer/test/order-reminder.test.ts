import { expect, test } from 'vitest';
import type { MailSend, MailSendState } from '#shared/contracts/mail';
import { createSendMail } from '../src/handlers/send-mail.ts';
import type { SentRecords } from '../src/sent-records.ts';
import type { OutgoingMail } from '../src/transport.ts';

const log = { info: () => {}, warn: () => {}, error: () => {}, debug: () => {} };

const reminder: MailSend = {
  v: 1,
  mailId: 'order-reminder-ord_t0000000000000000001',
  to: 'buyer@example.com',
  content: { template: 'order_reminder', orderId: 'ord_t0000000000000000001', event: 'Gig <live> & more', tickets: 3, amount: 7500, currency: 'EUR', expiresAt: '2030-01-02T00:00:00.000Z' },
};

/** The mail_sent bucket in memory: claims and sent-records with revisions, as the KV one keeps them. */
const memoryRecords = (): SentRecords => {
  const stored = new Map<string, { value: MailSendState; revision: number }>();
  let revision = 0;
  return {
    read: async (mailId) => stored.get(mailId),
    claim: async (claim, over) => {
      const current = stored.get(claim.mailId);
      if (current && current.revision !== over) return undefined;
      stored.set(claim.mailId, { value: claim, revision: ++revision });
      return revision;
    },
    recordSent: async (record) => void stored.set(record.mailId, { value: record, revision: ++revision }),
    release: async (mailId, claimRevision) => {
      if (stored.get(mailId)?.revision === claimRevision) stored.delete(mailId);
    },
  };
};

const send = async (job: MailSend) => {
  const sent: OutgoingMail[] = [];
  const records = memoryRecords();
  const handler = createSendMail({
    transport: { send: async (mail) => (sent.push(mail), { response: '250 OK' }), close: () => undefined },
    records,
    holder: 'reminder-test',
    claimMs: 5_000,
    publicUrl: 'https://tickets.example.com',
    checkoutUrl: 'https://pay.example.com/checkout?merchant=handoff',
    messageIdDomain: 'mail.example.com',
  });
  await handler(job, { jobId: 'j', attempt: 1, log });
  await handler(job, { jobId: 'j', attempt: 2, log });
  return sent;
};

test("a payment reminder names the order and links to the provider's checkout with the order, amount and a way back", async () => {
  const [mail, again] = await send(reminder);
  expect(again).toBeUndefined();
  expect(mail!.to).toBe('buyer@example.com');
  expect(mail!.messageId).toBe('<order-reminder-ord_t0000000000000000001@mail.example.com>');
  expect(mail!.subject).toBe('Your order ord_t0000000000000000001 for Gig <live> & more is waiting for payment');
  const link = new URL(/https:\/\/pay\.example\.com\/checkout\S+/.exec(mail!.text)![0]);
  expect(Object.fromEntries(link.searchParams)).toEqual({
    merchant: 'handoff',
    order: 'ord_t0000000000000000001',
    amount: '7500',
    currency: 'EUR',
    description: '3 tickets for Gig <live> & more',
    return: 'https://tickets.example.com/',
  });
  expect(mail!.text).toContain('75.00 EUR');
  expect(mail!.text).toContain(new Date('2030-01-02T00:00:00.000Z').toUTCString());
  expect(mail!.html).toContain(`href="${link.toString().replaceAll('&', '&amp;')}"`);
  expect(mail!.html).toContain('Gig &lt;live&gt; &amp; more');
  expect(mail!.html).not.toContain('<live>');
});
