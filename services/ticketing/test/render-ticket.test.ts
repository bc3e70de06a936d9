import { PDFParse } from 'pdf-parse';
import { expect, test } from 'vitest';
import { renderTicket } from '../src/render-ticket.ts';
import { signTicketId, verifyTicketCode } from '../src/ticket-code.ts';

const KEY = 'k'.repeat(32);

test('a rendered ticket PDF contains the event, the attendee, the order id, the ticket number and the signed code', async () => {
  const code = signTicketId(KEY, 'ord_abc', 2);
  const pdf = await renderTicket({ event: 'JSConf Ünïcode', attendee: 'Ada Lovelace 李', orderId: 'ord_abc', n: 2, total: 3, code });
  const parser = new PDFParse({ data: pdf });
  const { text } = await parser.getText();
  await parser.destroy();
  expect(text).toContain('JSConf Ünïcode');
  expect(text).toContain('Ada Lovelace 李');
  expect(text).toContain('ord_abc');
  expect(text).toContain('Ticket 2 of 3');
  expect(text.replace(/\s/g, '')).toContain(code);
});

test('a ticket code verifies with its key and not after tampering or with another key', () => {
  const code = signTicketId(KEY, 'ord_abc', 7);
  expect(verifyTicketCode(KEY, code)).toEqual({ orderId: 'ord_abc', n: 7 });
  expect(verifyTicketCode(KEY, code.replace('.7.', '.8.'))).toBeUndefined();
  expect(verifyTicketCode('x'.repeat(32), code)).toBeUndefined();
  expect(verifyTicketCode(KEY, 'garbage')).toBeUndefined();
});

test('a long event name stays on one line, whatever its characters', async () => {
  // Names that exactly fill the line used to wrap through rounding (about 1 in 8 of these shapes).
  const shaped = Array.from({ length: 40 }, (_, i) => `HANDOFF LIVE_${(Date.now() + i * 7919).toString(36).toUpperCase()}_${Math.random().toString(36).slice(2, 8).toUpperCase()}`);
  const scripts = ['国际开发者大会暨开源技术峰会二零二五年度全体会议', 'المؤتمر الدولي للمطورين والبرمجيات مفتوحة المصدر', 'अंतर्राष्ट्रीय डेवलपर सम्मेलन और प्रदर्शनी'];
  for (const event of ['WWWWWWWWWWWWWW MMMMMMMMMMMMMMMM', 'iiiiiiiiiiii llllllllllll', 'A fairly long conference name 2025 edition', ...scripts, ...shaped]) {
    const parser = new PDFParse({ data: await renderTicket({ event, attendee: 'A', orderId: 'ord_x', n: 1, total: 1, code: 'HT1.x' }) });
    const { text } = await parser.getText();
    await parser.destroy();
    expect(text).toContain(event);
  }
});
