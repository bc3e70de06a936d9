import { expect, test } from 'vitest';
import { RetryLaterError } from '#shared/jobs/retry-later';
import { laneTransport } from '../src/lane-transport.ts';
import { classifySmtpError, SmtpThrottledError, type MailTransport } from '../src/transport.ts';

const smtpError = (responseCode: number, response: string) => Object.assign(new Error(response), { code: 'EENVELOPE', responseCode, response });

test('421, 454 and rate answers are "slow down"; other 4xx retry; 5xx are final unless they say a rate was exceeded', () => {
  const kind = (code: number, text: string) => classifySmtpError(smtpError(code, text)).name;
  expect(kind(421, '421 4.7.0 Try again later, closing connection')).toBe('SmtpThrottledError');
  expect(kind(454, '454 Throttling failure: Maximum sending rate exceeded')).toBe('SmtpThrottledError');
  expect(kind(450, '450 4.7.1 Sending rate limit reached')).toBe('SmtpThrottledError');
  expect(kind(451, '451 4.7.1 Too many messages, slow down')).toBe('SmtpThrottledError');
  expect(kind(451, '451 Greylisted, please try again later')).toBe('Error');
  expect(kind(550, '550 5.7.1 Daily user sending rate limit exceeded')).toBe('SmtpThrottledError');
  expect(kind(550, '550 5.1.1 No such user (rated spam)')).toBe('PermanentError');
  expect(kind(552, '552 Too many recipients')).toBe('PermanentError');
});

test('a throttled send slows its lane down and sends the job back for the cooldown, not as a failure', async () => {
  const calls: string[] = [];
  const gate = {
    acquire: async (lane: string) => void calls.push(`acquire ${lane}`),
    slowDown: async (lane: string) => {
      calls.push(`slow ${lane}`);
      return 4_000;
    },
  };
  const throttled: MailTransport = { send: async () => Promise.reject(new SmtpThrottledError('SMTP server asked to slow down: 421')), close: () => undefined };
  const error = await laneTransport(throttled, gate, 'bulk').send({ to: 'a@example.test', subject: 's', text: 't', html: 'h', messageId: '<m@x>' }).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(RetryLaterError);
  expect((error as RetryLaterError).delayMs).toBe(4_000);
  expect(calls).toEqual(['acquire bulk', 'slow bulk']);

  const failing: MailTransport = { send: async () => Promise.reject(new Error('SMTP send failed (will retry): ECONNREFUSED')), close: () => undefined };
  const plain = await laneTransport(failing, gate, 'signin').send({ to: 'a@example.test', subject: 's', text: 't', html: 'h', messageId: '<m@x>' }).catch((e: unknown) => e);
  expect(plain).not.toBeInstanceOf(RetryLaterError);
  expect(calls).toEqual(['acquire bulk', 'slow bulk', 'acquire signin']);
});
