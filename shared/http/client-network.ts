import { isIPv4, isIPv6 } from 'node:net';

/**
 * Where a request comes from, at the grain a person controls: rate limits key on these, never on
 * anything the client writes itself. Pure functions, so the rules can run wherever the counters
 * are checked (the gateway today, the auth worker if the per-email limit moves behind the queue).
 */

const V4_MAPPED = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i;

/** The eight 16-bit groups of an IPv6 address (zone id dropped, `::` and a dotted tail expanded). */
const ipv6Groups = (address: string): number[] => {
  const plain = address.split('%')[0]!;
  const [head = '', tail] = plain.split('::');
  const part = (text: string): number[] =>
    text === ''
      ? []
      : text.split(':').flatMap((group) => {
          if (!group.includes('.')) return [parseInt(group, 16)];
          const [a = 0, b = 0, c = 0, d = 0] = group.split('.').map(Number);
          return [(a << 8) | b, (c << 8) | d];
        });
  const left = part(head);
  const right = tail === undefined ? [] : part(tail);
  return [...left, ...Array<number>(8 - left.length - right.length).fill(0), ...right];
};

const hex = (groups: number[]) => groups.map((g) => g.toString(16)).join(':');

/**
 * The client's network: the /24 of an IPv4 address, the /64 of an IPv6 one (one household or
 * office usually holds a whole /64, and a host can pick any address in it). An IPv4-mapped IPv6
 * address counts as IPv4. Anything else (a unix socket, a test's made-up address) is its own network.
 */
export const clientNetwork = (ip: string): string => {
  const v4 = V4_MAPPED.exec(ip)?.[1] ?? ip;
  if (isIPv4(v4)) return `${v4.split('.').slice(0, 3).join('.')}.0/24`;
  if (isIPv6(ip)) return `${hex(ipv6Groups(ip).slice(0, 4))}::/64`;
  return ip;
};

/**
 * One client for the per-client limit: an IPv4 address (many people share a /24), an IPv6 /64
 * (one client can rotate through every address in it).
 */
export const clientKey = (ip: string): string => {
  const v4 = V4_MAPPED.exec(ip)?.[1] ?? ip;
  if (isIPv4(v4)) return v4;
  return isIPv6(ip) ? clientNetwork(ip) : ip;
};
