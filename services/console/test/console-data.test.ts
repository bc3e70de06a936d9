import { expect, test } from 'vitest';
import { hideSecrets } from '../src/console-data.ts';

test('the dashboard never shows a raw token or session id from a dead letter', () => {
  const payload = JSON.stringify({ v: 1, mailId: 'm1', template: 'magic-link', to: 'a@example.test', content: { token: 'RAW-TOKEN-abc', expiresAt: 'x' } });
  const shown = hideSecrets(payload);
  expect(shown).not.toContain('RAW-TOKEN-abc');
  expect(JSON.parse(shown).content.token).toBe('[hidden]');
  expect(hideSecrets('{"sessionId": "s3cr3t", "n": 1}')).toBe('{"sessionId":"[hidden]", "n": 1}');
  expect(hideSecrets('{"orderId":"ord_1"}')).toBe('{"orderId":"ord_1"}');
});
