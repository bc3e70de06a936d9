import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { RpcUnavailableError } from '#shared/nats/rpc';
import type { Log } from '#shared/observability/logger';
import { errorMessage } from '#shared/observability/errors';
import { HttpProblem, PROBLEMS, problemBody } from './problems.ts';

export const sendProblem = (reply: FastifyReply, request: FastifyRequest, problem: HttpProblem) =>
  reply
    .code(PROBLEMS[problem.code].status)
    .headers(problem.headers)
    .type('application/problem+json')
    .send(problemBody(problem.code, problem.detail, request.url));

// fastify's own errors (body parsing, limits) mapped onto the catalogue.
const FASTIFY_CODES: Record<string, HttpProblem['code']> = {
  FST_ERR_CTP_INVALID_JSON_BODY: 'invalid_json',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'invalid_json',
  FST_ERR_CTP_BODY_TOO_LARGE: 'payload_too_large',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'bad_request',
  FST_ERR_VALIDATION: 'invalid_request',
};

export const toProblem = (error: unknown): HttpProblem => {
  if (error instanceof HttpProblem) return error;
  if (error instanceof RpcUnavailableError) return new HttpProblem('service_unavailable', 'A service the request needs did not answer.');
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
  if (PROBLEMS[problem.code].status >= 500) {
    log.error({ method: request.method, route: request.routeOptions.url ?? 'unmatched', code: problem.code, err: errorMessage(error) }, 'request failed');
  }
  return sendProblem(reply, request, problem);
};
