import { maskEmail } from '#shared/observability/logger';

// Same names the logger redacts, plus signatures: a summary is shown to operators, never a secret.
const SECRET_KEY = /^(token|rawtoken|sessionid|session|password|pass|secret|cookie|authorization|signature|webhook-signature)$/i;
const MAX_STRING = 120;
const MAX_ITEMS = 5;
const MAX_TOTAL = 600;

const shorten = (value: unknown, depth: number): unknown => {
  if (typeof value === 'string') return maskEmail(value.length > MAX_STRING ? `${value.slice(0, MAX_STRING)}…` : value);
  if (value === null || typeof value !== 'object') return value;
  if (depth > 4) return '…';
  if (Array.isArray(value)) {
    const head = value.slice(0, MAX_ITEMS).map((item) => shorten(item, depth + 1));
    return value.length > MAX_ITEMS ? [...head, `… ${value.length - MAX_ITEMS} more`] : head;
  }
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) out[key] = SECRET_KEY.test(key) ? '[hidden]' : shorten(item, depth + 1);
  return out;
};

/**
 * A job's payload as operators may see it in `jobs show` and the console: secrets hidden (a
 * magic-link job carries its raw token), addresses masked, long strings and lists cut short.
 */
export const summarizePayload = (data: Uint8Array): string => {
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder().decode(data));
  } catch {
    return `(${data.byteLength} bytes, not JSON)`;
  }
  const text = JSON.stringify(shorten(parsed, 0));
  return text.length > MAX_TOTAL ? `${text.slice(0, MAX_TOTAL)}…` : text;
};
