import { z } from 'zod';

/** Raised when the environment does not satisfy a service's settings schema. */
export class ConfigError extends Error {
  readonly issues: readonly string[];
  constructor(issues: readonly string[]) {
    super(`invalid configuration:\n  ${issues.join('\n  ')}`);
    this.name = 'ConfigError';
    this.issues = issues;
  }
}

type Env = Record<string, string | undefined>;

/**
 * Parses the environment once with a zod object schema whose keys are the variable names, and
 * freezes the result. Every failure names the variable, so an operator knows what to fix.
 */
export const parseEnv = <T>(schema: z.ZodType<T>, env: Env): Readonly<T> => {
  // Empty strings count as unset: `FOO= npm start` should take the default, not fail validation.
  const cleaned: Env = {};
  for (const [key, value] of Object.entries(env)) if (value !== '') cleaned[key] = value;
  const result = schema.safeParse(cleaned);
  if (!result.success) {
    throw new ConfigError(
      result.error.issues.map((issue) => {
        const name = issue.path.join('.') || '(environment)';
        const got = issue.path.length > 0 && cleaned[String(issue.path[0])] === undefined ? ' (not set)' : '';
        return `${name}: ${issue.message}${got}`;
      }),
    );
  }
  return Object.freeze(result.data);
};

/** Positive integer from an environment string. */
export const intFromEnv = (fallback: number) => z.coerce.number().int().nonnegative().default(fallback);

/** A URL with one of the given protocols. */
export const urlFromEnv = (protocols: readonly string[]) =>
  z.string().refine((value) => {
    try {
      return protocols.includes(new URL(value).protocol);
    } catch {
      return false;
    }
  }, `must be a URL with protocol ${protocols.join(' or ')}`);

/** Settings every service shares. */
export const commonEnv = {
  NATS_URL: z.string().default('nats://127.0.0.1:4222'),
  NATS_USER: z.string().optional(),
  NATS_PASSWORD: z.string().optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Replicas for streams and buckets this service ensures: 1 on one server, 3 on a cluster. */
  JS_REPLICAS: z.coerce.number().int().min(1).max(5).default(1),
  /** Port of the health/metrics HTTP server of workers (0 picks a free port). */
  HEALTH_PORT: intFromEnv(0),
  /** How long in-flight jobs may run after SIGTERM before they are cancelled and handed back. */
  SHUTDOWN_GRACE_MS: intFromEnv(10_000),
};

export type CommonConfig = z.infer<z.ZodObject<typeof commonEnv>>;
