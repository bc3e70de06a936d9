import type { KV } from '@nats-io/kv';

/** The slice of a KV bucket the auth stores use; tests may pass the real bucket or a fake. */
export type AuthKv = Pick<KV, 'get' | 'create' | 'update' | 'delete'>;

/** The server's answer when a revision-checked write lost a race (create on an existing key included). */
export const isRevisionConflict = (error: unknown): boolean =>
  error instanceof Error && /wrong last sequence|key exists/i.test(error.message);
