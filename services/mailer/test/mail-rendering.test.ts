import { simpleParser } from 'mailparser';
import nodemailer from 'nodemailer';
import { expect, test } from 'vitest';
import { isPermanent } from '#shared/jobs/errors';
import { verifyLink } from '../src/handlers/send-mail.ts';
import { escapeHtml } from '../src/templates/html.ts';
import { renderMagicLink } from '../src/templates/magic-link.ts';
import { renderTickets } from '../src/templates/tickets.ts';
import { classifySmtpError, senderDomain } from '../src/transport.ts';

const smtpError = (fields: Record<string, unknown>) => Object.assign(new Error('smtp'), fields);

test('a 5xx reply is permanent; 4xx, refused connections and timeouts are retried', () => {
  expect(isPermanent(classifySmtpError(smtpError({ code: 'EENVELOPE', responseCode: 550, response: '550 no such user' })))).toBe(true);
  expect(isPermanent(classifySmtpError(smtpError({ code: 'EMESSAGE', responseCode: 554 })))).toBe(true);
  expect(isPermanent(classifySmtpError(smtpError({ code: 'EENVELOPE', responseCode: 451 })))).toBe(false);
  expect(isPermanent(classifySmtpError(smtpError({ code: 'ECONNECTION' })))).toBe(false);
  expect(isPermanent(classifySmtpError(smtpError({ code: 'ETIMEDOUT' })))).toBe(false);
  expect(classifySmtpError(smtpError({ code: 'ESOCKET' })).message).toBe("SMTP send failed (will retry): ESOCKET smtp");
});

test('the link uses the public URL and escapes the token; the HTML escapes names', () => {
  const link = verifyLink('https://tickets.example.test/base/', 'abc_DEF-123');
  expect(link).toBe('https://tickets.example.test/auth/verify?token=abc_DEF-123');
  const mail = renderMagicLink({ link, name: '<script>x</script>', expiresAt: '2030-01-01T00:00:00.000Z' });
  expect(mail.text).toContain(link);
  expect(mail.text).toContain('<script>x</script>');
  expect(mail.html).toContain(`href="${link}"`);
  expect(mail.html).not.toContain('<script>');
  expect(mail.html).toContain('&lt;script&gt;');
});

test('Message-ID domains come from MAIL_FROM', () => {
  expect(senderDomain('Handoff <no-reply@mail.example.com>')).toBe('mail.example.com');
  expect(senderDomain('ops@example.org')).toBe('example.org');
  expect(senderDomain('nobody')).toBe('localhost');
});

const NAMES = [
  'Zoë Ørsted-Łukasiewicz',
  'Αλέξανδρος Παπαδόπουλος',
  'Ольга Петрова',
  '李小龙',
  '𠮷野 はなこ',
  '김민준',
  'Nguyễn Thị Minh Khai',
  'فاطمة عبد الله',
  'דוד בן־גוריון',
  'प्रिया शर्मा',
  `O'Brien & <Sons> "Ltd"`,
];

test('a tickets mail keeps every name, in any script, whole in the subject, the text part and the escaped HTML part', () => {
  const event = 'Конференция 東京 مؤتمر & <Co>';
  const mail = renderTickets({ event, orderId: 'ord_scripts', attendees: NAMES });
  expect(mail.subject).toContain(event);
  NAMES.forEach((name, i) => {
    expect(mail.text).toContain(`  ${i + 1}. ${name}\n`);
    expect(mail.html).toContain(`<li>${escapeHtml(name)}</li>`);
  });
  expect(mail.html).toContain('<strong>Конференция 東京 مؤتمر &amp; &lt;Co&gt;</strong>');
  expect(mail.html).toContain('O&#39;Brien &amp; &lt;Sons&gt; &quot;Ltd&quot;');
  expect(mail.html).not.toContain('<Sons>');
  expect(mail.html).toContain('<meta charset="utf-8">');
});

test('a tickets mail in many scripts goes out as UTF-8 MIME and parses back to the same subject, text and HTML', async () => {
  const mail = renderTickets({ event: 'Конференция 東京 مؤتمر', orderId: 'ord_scripts', attendees: NAMES });
  const transport = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'unix' });
  const { message } = await transport.sendMail({ from: 'tickets@example.test', to: 'buyer@example.test', ...mail });
  const raw = Buffer.isBuffer(message) ? message : Buffer.from(String(message));
  expect(raw.toString('latin1')).toMatch(/Content-Type: text\/plain; charset=utf-8/);
  expect(raw.toString('latin1')).toMatch(/Content-Type: text\/html; charset=utf-8/);
  const parsed = await simpleParser(raw);
  expect(parsed.subject).toBe(mail.subject);
  expect(parsed.text?.trimEnd()).toBe(mail.text.trimEnd());
  expect(String(parsed.html).trimEnd()).toBe(mail.html.trimEnd());
});
