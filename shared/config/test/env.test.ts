import { z } from 'zod';
import { expect, test } from 'vitest';
import { ConfigError, commonEnv, parseEnv, urlFromEnv } from '#shared/config/env';

const schema = z.object({ ...commonEnv, SMTP_URL: urlFromEnv(['smtp:', 'smtps:']), PORT: z.coerce.number().int().default(3000) });

test('defaults apply and the result is frozen', () => {
  const config = parseEnv(schema, { SMTP_URL: 'smtp://localhost:25' });
  expect(config.NATS_URL).toBe('nats://127.0.0.1:4222');
  expect(config.PORT).toBe(3000);
  expect(Object.isFrozen(config)).toBe(true);
});

test('a missing or bad setting fails with a message naming the variable', () => {
  expect(() => parseEnv(schema, {})).toThrow(/SMTP_URL: .*\(not set\)/);
  expect(() => parseEnv(schema, { SMTP_URL: 'http://x', PORT: 'abc' })).toThrow(ConfigError);
  try {
    parseEnv(schema, { SMTP_URL: 'http://x', PORT: 'abc' });
  } catch (error) {
    expect((error as ConfigError).issues.join('\n')).toMatch(/SMTP_URL: must be a URL with protocol smtp: or smtps:/);
    expect((error as ConfigError).issues.join('\n')).toMatch(/PORT/);
  }
});

test('empty strings count as unset', () => {
  expect(parseEnv(schema, { SMTP_URL: 'smtp://h:25', PORT: '' }).PORT).toBe(3000);
});
