import { Writable } from 'node:stream';
import { expect, test } from 'vitest';
import { createLogger, maskEmail } from '#shared/observability/logger';

const capture = () => {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _enc, cb) {
      lines.push(String(chunk));
      cb();
    },
  });
  return { lines, destination };
};

test('email addresses are masked wherever they appear', () => {
  expect(maskEmail('mail alice.smith@example.com now')).toBe('mail a***@example.com now');
  const { lines, destination } = capture();
  const log = createLogger({ service: 't', destination });
  log.info({ to: 'bob@example.org', nested: { list: ['carol@example.net'] } }, 'sent to dave@example.com');
  const text = lines.join('');
  expect(text).not.toMatch(/bob@|carol@|dave@/);
  expect(text).toContain('b***@example.org');
});

test('tokens, session ids, cookies and secrets are redacted', () => {
  const { lines, destination } = capture();
  const log = createLogger({ service: 't', destination });
  log.info({ token: 'raw-token-value', sessionId: 'sid-value', req: { headers: { cookie: 'sid=abc', authorization: 'Bearer x' } }, user: { password: 'pw' } });
  const text = lines.join('');
  for (const secret of ['raw-token-value', 'sid-value', 'sid=abc', 'Bearer x', '"pw"']) expect(text).not.toContain(secret);
  expect(text).toContain('[redacted]');
});
