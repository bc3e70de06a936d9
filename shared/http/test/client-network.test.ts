import { expect, test } from 'vitest';
import { clientKey, clientNetwork } from '../client-network.ts';
import { fullChecks } from '../rate-limit.ts';

test('an IPv4 address belongs to its /24; the client is the address itself', () => {
  expect(clientNetwork('203.0.113.77')).toBe('203.0.113.0/24');
  expect(clientKey('203.0.113.77')).toBe('203.0.113.77');
  expect(clientNetwork('::ffff:203.0.113.77')).toBe('203.0.113.0/24');
  expect(clientKey('::FFFF:203.0.113.77')).toBe('203.0.113.77');
});

test('an IPv6 address belongs to its /64 whatever its spelling, and the /64 is the client', () => {
  const net = '2001:db8:1:2::/64';
  for (const ip of ['2001:db8:1:2::1', '2001:0db8:0001:0002:ffff:ffff:ffff:ffff', '2001:db8:1:2:0:0:0:9%eth0', '2001:db8:1:2::1.2.3.4']) {
    expect(clientNetwork(ip), ip).toBe(net);
    expect(clientKey(ip), ip).toBe(net);
  }
  expect(clientNetwork('2001:db8:1:3::1')).toBe('2001:db8:1:3::/64');
  expect(clientNetwork('::1')).toBe('0:0:0:0::/64');
  expect(clientNetwork('fe80::1')).toBe('fe80:0:0:0::/64');
});

test('anything that is not an IP address is its own network', () => {
  expect(clientNetwork('unix:/run/socket')).toBe('unix:/run/socket');
  expect(clientKey('')).toBe('');
});

test('the limit rule: a check is full once its counter reached its max', () => {
  const rule = (max: number) => ({ scope: 's', subject: 'x', rule: { max, windowMs: 1_000 } });
  expect(fullChecks([rule(5), rule(20), rule(30)], [4, 19, 29])).toEqual([]);
  expect(fullChecks([rule(5), rule(20), rule(30)], [5, 19, 30])).toEqual([0, 2]);
  expect(fullChecks([rule(1)], [])).toEqual([]);
});
