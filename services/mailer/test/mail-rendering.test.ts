import { expect, test } from 'vitest';
import { isPermanent } from '#shared/jobs/errors';
import { verifyLink } from '../src/handlers/send-mail.ts';
import { renderMagicLink } from '../src/templates/magic-link.ts';
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
