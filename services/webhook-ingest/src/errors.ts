/** Every error webhook-ingest answers with: a stable code, its status, and a message for the provider. */
export const ERRORS = {
  signature_missing: { status: 401, title: 'The webhook-id, webhook-timestamp and webhook-signature headers are required' },
  signature_invalid: { status: 401, title: 'No signature matches the body with any configured secret' },
  timestamp_out_of_tolerance: { status: 401, title: 'The webhook timestamp is outside the accepted tolerance' },
  body_malformed: { status: 400, title: 'The body is not a valid payment event' },
  body_too_large: { status: 413, title: 'The body is larger than allowed' },
  not_found: { status: 404, title: 'No such route' },
  unavailable: { status: 503, title: 'The event could not be stored; retry later' },
  internal: { status: 500, title: 'Internal error' },
} as const;

export type ErrorCode = keyof typeof ERRORS;

export interface Problem {
  type: string;
  title: string;
  status: number;
  code: ErrorCode;
  detail?: string;
}

export const problem = (code: ErrorCode, detail?: string): Problem => ({
  type: `urn:handoff:webhook-ingest:${code}`,
  title: ERRORS[code].title,
  status: ERRORS[code].status,
  code,
  ...(detail ? { detail } : {}),
});
