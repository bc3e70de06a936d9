import type { KV } from '@nats-io/kv';

/** The slice of a KV bucket the auth stores use; tests may pass the real bucket or a fake. */
export type AuthKv = Pick<KV, 'get' | 'create' | 'update' | 'delete'>;
