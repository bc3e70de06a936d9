import { pino, type Logger as PinoLogger, type DestinationStream } from 'pino';
import { traceFields } from './tracing.ts';

export type Logger = PinoLogger;

/** Narrowest logging surface most code needs; tests pass a plain fake. */
export interface Log {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
}

const EMAIL = /([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9.-]+\.[A-Za-z]{2,})/g;

/** `alice@example.com` → `a***@example.com`: enough to correlate, not enough to harvest. */
export const maskEmail = (text: string): string => text.replace(EMAIL, '$1***@$2');

// Secrets never reach a log line, whatever object they travel in.
const SECRET_KEYS = [
  'token',
  'rawToken',
  'sessionId',
  'session',
  'password',
  'secret',
  'cookie',
  'authorization',
  'set-cookie',
  'webhook-signature',
];
const redactPaths = [
  ...SECRET_KEYS.flatMap((key) => [key, `*.${key}`, `*.*.${key}`]),
  'req.headers.cookie',
  'req.headers.authorization',
  'res.headers["set-cookie"]',
];

const maskDeep = (value: unknown, depth: number): unknown => {
  if (typeof value === 'string') return maskEmail(value);
  if (depth > 6 || value === null || typeof value !== 'object') return value;
  if (value instanceof Error) return value;
  if (Array.isArray(value)) return value.map((item) => maskDeep(item, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) out[key] = maskDeep(item, depth + 1);
  return out;
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
      redact: { paths: redactPaths, censor: '[redacted]' },
      // trace_id/span_id of the active span tie every line to its trace in Jaeger.
      mixin: () => ({ ...traceFields(), ...options.mixin?.() }),
      formatters: { log: (obj) => maskDeep(obj, 0) as Record<string, unknown> },
      hooks: {
        // Messages are strings built by our own code, but may still carry an address.
        logMethod(args, method) {
          const masked = args.map((arg) => (typeof arg === 'string' ? maskEmail(arg) : arg));
          method.apply(this, masked as Parameters<typeof method>);
        },
      },
    },
    options.destination,
  );
