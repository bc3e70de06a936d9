import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { RpcUnavailableError } from '#shared/nats/rpc';
import type { Log } from '#shared/observability/logger';

/** Every error the gateway answers with: a stable code, its status and a title. */
export const PROBLEMS = {
  bad_request: { status: 400, title: 'The request could not be understood' },
  invalid_json: { status: 400, title: 'The body is not valid JSON' },
  invalid_request: { status: 400, title: 'The request does not have the expected shape' },
  token_invalid: { status: 400, title: 'This sign-in link is not valid' },
  unauthenticated: { status: 401, title: 'Sign in first' },
  cross_origin: { status: 403, title: 'Cross-origin requests cannot change anything here' },
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

/** Thrown by routes; the error handler turns it into application/problem+json. */
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

export const problemBody = (code: ProblemCode, detail: string | undefined, path: string) => ({
  type: `https://handoff.dev/problems/${code.replaceAll('_', '-')}`,
  title: PROBLEMS[code].title,
  status: PROBLEMS[code].status,
  code,
  ...(detail ? { detail } : {}),
  // The path only: a query string may carry a token.
  instance: path.split('?')[0],
});

export const sendProblem = (reply: FastifyReply, request: FastifyRequest, problem: HttpProblem) =>
  reply
    .code(PROBLEMS[problem.code].status)
    .headers(problem.headers)
    .type('application/problem+json')
    .send(problemBody(problem.code, problem.detail, request.url));

// fastify's own errors (body parsing, limits) mapped onto the catalogue.
const FASTIFY_CODES: Record<string, ProblemCode> = {
  FST_ERR_CTP_INVALID_JSON_BODY: 'invalid_json',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'invalid_json',
  FST_ERR_CTP_BODY_TOO_LARGE: 'payload_too_large',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'bad_request',
  FST_ERR_VALIDATION: 'invalid_request',
};

export const toProblem = (error: unknown): HttpProblem => {
  if (error instanceof HttpProblem) return error;
  if (error instanceof RpcUnavailableError) return new HttpProblem('service_unavailable', 'The auth service did not answer.');
  const fastifyError = error as Partial<FastifyError>;
  const mapped = fastifyError.code ? FASTIFY_CODES[fastifyError.code] : undefined;
  if (mapped) return new HttpProblem(mapped, fastifyError.message);
  if (error instanceof SyntaxError) return new HttpProblem('invalid_json', error.message);
  if (typeof fastifyError.statusCode === 'number' && fastifyError.statusCode >= 400 && fastifyError.statusCode < 500) {
    return new HttpProblem('bad_request', fastifyError.message);
  }
  return new HttpProblem('internal_error');
};

export const createErrorHandler = (log: Log) => (error: unknown, request: FastifyRequest, reply: FastifyReply) => {
  const problem = toProblem(error);
  const status = PROBLEMS[problem.code].status;
  if (status >= 500) {
    log.error(
      { method: request.method, route: request.routeOptions.url ?? 'unmatched', code: problem.code, err: error instanceof Error ? error.message : String(error) },
      'request failed',
    );
  }
  return sendProblem(reply, request, problem);
};
