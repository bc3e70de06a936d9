import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * The text inside a ticket's QR code: `HT1.<orderId>.<n>.<mac>`, the mac an HMAC-SHA256 of the
 * ticket id. A scanner holding the key can tell a real ticket from a forged one offline.
 */
export const signTicketId = (key: string, orderId: string, n: number): string => {
  const id = `${orderId}.${n}`;
  return `HT1.${id}.${createHmac('sha256', key).update(id).digest('base64url')}`;
};

export const verifyTicketCode = (key: string, code: string): { orderId: string; n: number } | undefined => {
  const match = /^HT1\.([A-Za-z0-9_-]+)\.([1-9]\d*)\.([A-Za-z0-9_-]+)$/.exec(code);
  if (!match) return undefined;
  const [, orderId = '', n = '', mac = ''] = match;
  const expected = Buffer.from(signTicketId(key, orderId, Number(n)).split('.').at(-1) ?? '');
  const given = Buffer.from(mac);
  return given.length === expected.length && timingSafeEqual(given, expected) ? { orderId, n: Number(n) } : undefined;
};
