import { pino, type Logger as PinoLogger, type DestinationStream } from 'pino';
import { traceFields } from './tracing.ts';

export type Logger = PinoLogger;

/** Narrowest logging surface most code needs; tests pass a plain fake. */
export interface Log {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
  /** pino's: lets a hot path skip building a line nobody will see. Fakes may leave it out. */
  isLevelEnabled?(level: string): boolean;
}

const EMAIL = /([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9.-]+\.[A-Za-z]{2,})/g;

/** `alice@example.com` → `a***@example.com`: enough to correlate, not enough to harvest. */
export const maskEmail = (text: string): string => text.replace(EMAIL, '$1***@$2');

// Secrets never reach a log line, whatever object they travel in: any field with one of these
// names is replaced, at any depth. Matched by name in one walk (cheaper than pino's wildcard
// redaction paths, which cost a job runner half its throughput at one line per job).
const SECRET_KEY = /^(token|rawtoken|sessionid|session|password|pass|secret|cookie|authorization|set-cookie|webhook-signature)$/i;

// Lines reuse a handful of field names: the verdict of SECRET_KEY per name is remembered, not
// re-matched on every line (bounded: names beyond the cache's size are matched each time).
const secretVerdicts = new Map<string, boolean>();
const isSecretKey = (key: string): boolean => {
  let verdict = secretVerdicts.get(key);
  if (verdict === undefined) {
    verdict = SECRET_KEY.test(key);
    if (secretVerdicts.size < 1_024) secretVerdicts.set(key, verdict);
  }
  return verdict;
};

/** True when `value` holds a secret field or an address: most lines hold neither and are not copied. */
const needsSanitizing = (value: unknown, depth: number): boolean => {
  if (typeof value === 'string') return value.includes('@');
  if (value === null || typeof value !== 'object' || depth > 6) return false;
  if (value instanceof Error) return true;
  if (Array.isArray(value)) {
    for (const item of value) if (needsSanitizing(item, depth + 1)) return true;
    return false;
  }
  for (const key in value) {
    if (isSecretKey(key) || needsSanitizing((value as Record<string, unknown>)[key], depth + 1)) return true;
  }
  return false;
};

const sanitize = (value: unknown, depth: number): unknown => {
  if (typeof value === 'string') return value.includes('@') ? maskEmail(value) : value;
  if (value === null || typeof value !== 'object' || depth > 6) return value;
  if (value instanceof Error) return { type: value.name, message: maskEmail(value.message), stack: value.stack && maskEmail(value.stack) };
  if (Array.isArray(value)) return value.map((item) => sanitize(item, depth + 1));
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value)) {
    out[key] = isSecretKey(key) ? '[redacted]' : sanitize((value as Record<string, unknown>)[key], depth + 1);
  }
  return out;
};

const isEmpty = (value: object): boolean => {
  for (const _ in value) return false;
  return true;
};

export interface LoggerOptions {
  service: string;
  level?: string;
  /** Extra fields on every line (trace ids are always added). */
  mixin?: () => Record<string, unknown>;
  destination?: DestinationStream;
}

/** One JSON line per event, secrets redacted and email addresses masked. */
export const createLogger = (options: LoggerOptions): Logger =>
  pino(
    {
      level: options.level ?? 'info',
      base: { service: options.service },
      // trace_id/span_id of the active span tie every line to its trace in Jaeger.
      mixin: options.mixin ? () => ({ ...traceFields(), ...options.mixin?.() }) : traceFields,
      // pino's default merges the line's fields into the mixin's object; with no span that object is
      // empty (and shared), so the line's own object is used as it is: no copy per line.
      mixinMergeStrategy: (mergeObject, mixinObject) => (isEmpty(mixinObject) ? mergeObject : Object.assign(mixinObject, mergeObject)),
      formatters: { log: (obj) => (needsSanitizing(obj, 0) ? (sanitize(obj, 0) as Record<string, unknown>) : obj) },
      hooks: {
        // Messages are strings built by our own code, but may still carry an address.
        logMethod(args, method) {
          let needs = false;
          for (const arg of args) if (typeof arg === 'string' && arg.includes('@')) needs = true;
          const masked = needs ? args.map((arg) => (typeof arg === 'string' ? maskEmail(arg) : arg)) : args;
          method.apply(this, masked as Parameters<typeof method>);
        },
      },
    },
    // Asynchronous stdout: lines written while a write is in flight go out together, instead of one
    // blocking write syscall per line (a job runner logs a line per job). Flushed on exit.
    options.destination ?? pino.destination({ dest: 1, sync: false }),
  );
