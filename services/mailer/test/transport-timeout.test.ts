import { createServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, expect, test } from 'vitest';
import { createSmtpTransport } from '../src/transport.ts';

// A server that accepts connections and never says a word: an SMTP relay that hangs.
const sockets: Socket[] = [];
const silent = createServer((socket) => void sockets.push(socket));
await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
const url = `smtp://127.0.0.1:${(silent.address() as AddressInfo).port}`;
// One that greets and then never answers a command: it hangs before the message is handed over.
const mute = createServer((socket) => {
  sockets.push(socket);
  socket.write('220 mute.example.test ESMTP\r\n');
});
await new Promise<void>((resolve) => mute.listen(0, '127.0.0.1', resolve));
const muteUrl = `smtp://127.0.0.1:${(mute.address() as AddressInfo).port}`;
afterAll(() => {
  for (const s of sockets) s.destroy();
  silent.close();
  mute.close();
});

const mail = { to: 'a@example.test', subject: 's', text: 't', html: '<p>t</p>', messageId: '<m@example.test>' };

test('SMTP_TIMEOUT_MS applies: a relay that never greets fails the send, classified as retryable', async () => {
  const transport = createSmtpTransport({ url, from: 'x@example.test', timeoutMs: 300 });
  const started = Date.now();
  const error = await transport.send(mail).then(() => undefined, (e: unknown) => e as Error);
  expect(error).toBeInstanceOf(Error);
  expect(error?.name).not.toBe('PermanentError');
  // nodemailer's default greeting timeout is 30 s; failing within a few seconds proves ours applied.
  expect(Date.now() - started).toBeLessThan(10_000);
});

test("the job's signal aborts a send in progress, so a retry never races it", async () => {
  const transport = createSmtpTransport({ url, from: 'x@example.test', timeoutMs: 60_000 });
  const controller = new AbortController();
  const started = Date.now();
  const sending = transport.send(mail, controller.signal).then(() => 'sent', (e: unknown) => e);
  setTimeout(() => controller.abort(new Error('job timed out')), 200);
  expect(await sending).toBeInstanceOf(Error);
  // Ended by the abort, not by the 60 s SMTP timeout.
  expect(Date.now() - started).toBeLessThan(10_000);
});

test('before the message is handed over, each reply must come within SMTP_TIMEOUT_MS, however long the DATA timeout', async () => {
  const transport = createSmtpTransport({ url: muteUrl, from: 'x@example.test', timeoutMs: 300, dataTimeoutMs: 600_000 });
  const started = Date.now();
  const error = await transport.send(mail).then(() => undefined, (e: unknown) => e as Error);
  expect(error).toBeInstanceOf(Error);
  expect(error?.name).not.toBe('SmtpOutcomeUnknownError');
  // Ended by the 300 ms reply timeout, not by the 10-minute DATA timeout.
  expect(Date.now() - started).toBeLessThan(10_000);
});
