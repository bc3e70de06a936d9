/**
 * The one catalogue of problems every HTTP service answers with (fastify's FST_ERR_* style): a
 * stable code, its status and a title. Every 4xx/5xx body is application/problem+json (RFC 9457)
 * with `type` https://handoff.dev/problems/<code>, `code`, `title`, `status`, `detail`, `instance`.
 */
export const PROBLEMS = {
  bad_request: { status: 400, title: 'The request could not be understood' },
  invalid_json: { status: 400, title: 'The body is not valid JSON' },
  invalid_request: { status: 400, title: 'The request does not have the expected shape' },
  body_malformed: { status: 400, title: 'The body is not a valid payment event' },
  token_invalid: { status: 400, title: 'This sign-in link is not valid' },
  unauthenticated: { status: 401, title: 'Sign in first' },
  signature_missing: { status: 401, title: 'The webhook-id, webhook-timestamp and webhook-signature headers are required' },
  signature_invalid: { status: 401, title: 'No signature matches the body with any configured secret' },
  timestamp_invalid: { status: 401, title: 'The webhook timestamp must be whole seconds since the epoch (digits only)' },
  timestamp_out_of_tolerance: { status: 401, title: 'The webhook timestamp is outside the accepted tolerance' },
  cross_origin: { status: 403, title: 'Cross-origin requests cannot change anything here' },
  replay_refused: { status: 403, title: 'This dead letter cannot be replayed' },
  not_found: { status: 404, title: 'No such resource' },
  token_expired: { status: 410, title: 'This sign-in link has expired' },
  token_used: { status: 410, title: 'This sign-in link has already been used' },
  payload_too_large: { status: 413, title: 'The body is too large' },
  unsupported_media_type: { status: 415, title: 'Send the body as application/json' },
  rate_limited: { status: 429, title: 'Too many requests; try again later' },
  internal_error: { status: 500, title: 'Something went wrong on our side' },
  service_unavailable: { status: 503, title: 'A service the request needs is unavailable; try again shortly' },
} as const;
export type ProblemCode = keyof typeof PROBLEMS;

/** Thrown by routes; the shared error handler turns it into application/problem+json. */
export class HttpProblem extends Error {
  readonly code: ProblemCode;
  readonly detail: string | undefined;
  readonly headers: Record<string, string>;
  constructor(code: ProblemCode, detail?: string, headers: Record<string, string> = {}) {
    super(detail ?? PROBLEMS[code].title);
    this.name = 'HttpProblem';
    this.code = code;
    this.detail = detail;
    this.headers = headers;
  }
}

export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  code: ProblemCode;
  detail?: string;
  instance?: string;
}

export const problemType = (code: ProblemCode) => `https://handoff.dev/problems/${code.replaceAll('_', '-')}`;

export const problemBody = (code: ProblemCode, detail: string | undefined, path?: string): ProblemBody => ({
  type: problemType(code),
  title: PROBLEMS[code].title,
  status: PROBLEMS[code].status,
  code,
  ...(detail ? { detail } : {}),
  // The path only: a query string may carry a token.
  ...(path !== undefined ? { instance: path.split('?')[0] } : {}),
});
