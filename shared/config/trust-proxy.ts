import { isIP } from 'node:net';
import { z } from 'zod';

/** What fastify's `trustProxy` takes: no proxy, a hop count, or the proxies' addresses/CIDRs. */
export type TrustProxy = false | number | string[];

const CIDR = /^(.+?)(?:\/(\d{1,3}))?$/;
const isAddressOrCidr = (value: string) => {
  const match = CIDR.exec(value);
  const family = match ? isIP(match[1] ?? '') : 0;
  if (!family) return false;
  return match?.[2] === undefined || Number(match[2]) <= (family === 4 ? 32 : 128);
};

/**
 * `TRUST_PROXY`: how many proxies stand in front (`1` = one, such as the Ingress controller), or
 * a comma-separated list of the proxies' addresses/CIDRs (`10.0.0.0/8,127.0.0.1`). Unset, `0` or
 * `false`: no proxy, X-Forwarded-For is ignored and the client is the socket's peer. `true` (trust
 * every hop) is refused: a client could then name any address it likes.
 */
export const trustProxyFromEnv = z
  .string()
  .default('false')
  .transform((value, ctx): TrustProxy => {
    const text = value.trim();
    if (text === 'false' || text === '0') return false;
    if (/^\d+$/.test(text)) return Number(text);
    if (text === 'true') {
      ctx.addIssue({ code: 'custom', message: 'true would trust every hop; give the number of proxies in front (e.g. 1) or their addresses/CIDRs' });
      return z.NEVER;
    }
    const list = text.split(',').map((s) => s.trim()).filter(Boolean);
    const bad = list.filter((s) => !isAddressOrCidr(s));
    if (list.length === 0 || bad.length > 0) {
      ctx.addIssue({ code: 'custom', message: `not a hop count or a list of addresses/CIDRs: ${bad.join(', ') || text}` });
      return z.NEVER;
    }
    return list;
  });
