import fc from 'fast-check';
import type { FastifyInstance, InjectOptions } from 'fastify';
import { expect } from 'vitest';

/** Hostile HTTP inputs shared by the gateway and webhook-ingest fuzzers. */

const utf8 = (s: string) => Buffer.from(s, 'utf8');

/** Header-safe text (tab, printable ASCII, Latin-1): what a socket can carry, however odd. */
export const headerValue = fc.oneof(
  fc.string({ unit: fc.constantFrom(...'\t !"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~aZ09=,;'.split('')), maxLength: 60 }),
  fc.string({ unit: fc.integer({ min: 0x20, max: 0xff }).map((c) => String.fromCharCode(c === 0x7f ? 0x20 : c)), maxLength: 60 }),
  fc.constant('x'.repeat(8_000)),
);

export const contentType = fc.option(
  fc.oneof(
    fc.constantFrom(
      'application/json',
      'application/json; charset=utf-8',
      'application/json; charset=utf-16',
      'application/json; charset=bogus',
      'APPLICATION/JSON',
      'application/problem+json',
      'application/vnd.api+json',
      'text/plain',
      'text/html',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=----x',
      'application/octet-stream',
      '',
      ';',
      'json',
      '*/*',
    ),
    headerValue,
  ),
  { nil: undefined },
);

/** JSON nested `depth` levels deep, as arrays or objects. */
const deep = fc.tuple(fc.integer({ min: 50, max: 5_000 }), fc.boolean()).map(([depth, arrays]) =>
  arrays ? '['.repeat(depth) + ']'.repeat(depth) : '{"a":'.repeat(depth) + '1' + '}'.repeat(depth),
);

/** A JSON value of any shape, with huge strings and arrays mixed in. */
const anyJson = fc.oneof(
  { weight: 4, arbitrary: fc.jsonValue({ maxDepth: 4 }) },
  { weight: 1, arbitrary: fc.array(fc.jsonValue({ maxDepth: 1 }), { minLength: 100, maxLength: 2_000 }) },
  { weight: 1, arbitrary: fc.integer({ min: 1_000, max: 100_000 }).map((n) => 'y'.repeat(n)) },
);

/** Bodies shaped like each route's own input, with every field of any type. */
export const shapedBody = fc.oneof(
  fc.record({ email: fc.oneof(anyJson, fc.emailAddress(), fc.string()) }, { requiredKeys: [] }),
  fc.record(
    {
      event: fc.oneof(anyJson, fc.string({ maxLength: 300 })),
      attendees: fc.oneof(
        anyJson,
        fc.array(fc.record({ name: fc.oneof(anyJson, fc.string({ maxLength: 300 })) }, { requiredKeys: [] }), { maxLength: 150 }),
      ),
    },
    { requiredKeys: [] },
  ),
  fc.record({ type: fc.oneof(fc.constant('payment.succeeded'), anyJson), timestamp: anyJson, data: fc.oneof(anyJson, fc.record({ orderId: anyJson, amount: anyJson, currency: anyJson }, { requiredKeys: [] })) }, { requiredKeys: [] }),
);

/** Any body at all: JSON of every shape, non-JSON text, invalid UTF-8, deep nesting, huge payloads. */
export const body: fc.Arbitrary<Buffer | undefined> = fc.oneof(
  { weight: 1, arbitrary: fc.constant(undefined) },
  { weight: 4, arbitrary: shapedBody.map((v) => utf8(JSON.stringify(v))) },
  { weight: 3, arbitrary: anyJson.map((v) => utf8(JSON.stringify(v) ?? 'null')) },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 200 }).map(utf8) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)) },
  // Invalid UTF-8 inside otherwise valid JSON.
  { weight: 1, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 20 }).map((b) => Buffer.concat([utf8('{"email":"'), Buffer.from(b.map((x) => x | 0x80)), utf8('@x.test"}')])) },
  { weight: 1, arbitrary: deep.map(utf8) },
  { weight: 1, arbitrary: fc.integer({ min: 60_000, max: 400_000 }).map((n) => utf8(`{"email":"${'z'.repeat(n)}"}`)) },
  { weight: 1, arbitrary: fc.constantFrom('', ' ', 'null', '{', '{"email":', '\u0000', '{"__proto__":{"x":1}}', '{"constructor":{"prototype":{}}}').map(utf8) },
);

export const method = fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS') as fc.Arbitrary<InjectOptions['method'] & string>;

/** A path segment: plausible ids, traversal, percent-garbage, unicode, huge. */
export const segment = fc.oneof(
  fc.string({ unit: fc.constantFrom(...'abcXYZ019_-.~'.split('')), minLength: 1, maxLength: 30 }),
  fc.constantFrom('..', '%2e%2e', '%', '%ZZ', '%00', '%ff%fe', ';', '0', '-1', '1e3', '101', '999999999999999999999', 'NaN', 'ord_1'),
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 20 }).map(encodeURIComponent),
  fc.constant('a'.repeat(3_000)),
);

/** A query string: tokens of every shape, repeated keys, garbage encodings. */
export const query = fc.oneof(
  fc.constant(''),
  fc.array(fc.tuple(fc.constantFrom('token', 'email', 'x', ''), fc.oneof(segment, fc.constant('A'.repeat(300)))), { maxLength: 4 }).map((pairs) =>
    pairs.length ? `?${pairs.map(([k, v]) => `${k}=${v}`).join('&')}` : '',
  ),
  fc.constantFrom('?', '?&&', '?token', '?token[]=a&token[]=b', '?%', '?token=%E0%A4%A'),
);

/** Odd headers: forwarded-for garbage, origins, accepts, encodings, duplicate-looking names. */
export const oddHeaders = fc.record(
  {
    accept: fc.oneof(fc.constantFrom('application/json', 'text/html', '*/*', ''), headerValue),
    origin: fc.oneof(fc.constantFrom('null', 'http://evil.example', 'http://localhost:3000'), headerValue),
    'x-forwarded-for': fc.oneof(fc.constantFrom('1.2.3.4', '::1, 10.0.0.1', 'not-an-ip'), headerValue),
    'content-encoding': fc.constantFrom('gzip', 'br', 'identity', 'x-unknown'),
    'accept-encoding': headerValue,
    'user-agent': headerValue,
    'x-request-id': headerValue,
    referer: headerValue,
  },
  { requiredKeys: [] },
);

export const responseStats = () => ({ requests: 0, byStatus: new Map<number, number>() });

/**
 * The property every response must have: no 5xx, and every 4xx an application/problem+json body
 * with a string `code` and its own status — except pages meant for people (`htmlPaths`, e.g. the
 * sign-in link's failure pages), which are uncached HTML. Returns the status for the tally.
 */
export const checkResponse = async (app: FastifyInstance, request: InjectOptions, options: { htmlPaths?: RegExp } = {}): Promise<number> => {
  const res = await app.inject(request);
  const label = `${request.method} ${String(request.url)} → ${res.statusCode} ${res.body.slice(0, 300)}`;
  expect(res.statusCode, label).toBeLessThan(500);
  const path = String(request.url).split('?')[0] ?? '';
  if (res.statusCode >= 400 && options.htmlPaths?.test(path) && String(res.headers['content-type']).startsWith('text/html')) {
    expect(res.headers['cache-control'], label).toBe('no-store');
    if (request.method !== 'HEAD') expect(res.body, label).toMatch(/^<!doctype html>/);
  } else if (res.statusCode >= 400) {
    expect(String(res.headers['content-type']), label).toMatch(/^application\/problem\+json/);
    if (request.method !== 'HEAD') {
      const problem = res.json<{ code?: unknown; status?: unknown }>();
      expect(typeof problem.code, label).toBe('string');
      expect(problem.status, label).toBe(res.statusCode);
    }
  }
  return res.statusCode;
};
