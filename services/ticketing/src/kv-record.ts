import type { KV } from '@nats-io/kv';
import type { z } from 'zod';

/** The narrow KV surface ticketing uses; tests pass an in-memory fake. */
export type RecordKv = Pick<KV, 'get' | 'create' | 'update' | 'keys'>;

// Both a lost compare-and-set and a create() of an existing key come back as this server error.
export const isConflict = (error: unknown) => error instanceof Error && /wrong last sequence|key exists/i.test(error.message);

const encode = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));

/**
 * A typed record in a KV bucket, written only with revision checks: `change` re-reads and retries
 * when another writer got there first, so concurrent workers never overwrite each other.
 */
export const kvRecords = <T>(kv: RecordKv, schema: z.ZodType<T>) => {
  const read = async (key: string): Promise<{ value: T; revision: number } | undefined> => {
    const entry = await kv.get(key);
    if (!entry || entry.operation !== 'PUT' || entry.length === 0) return undefined;
    return { value: schema.parse(entry.json()), revision: entry.revision };
  };
  return {
    read,
    /** false when the key already exists. */
    async create(key: string, value: T): Promise<boolean> {
      try {
        await kv.create(key, encode(value));
        return true;
      } catch (error) {
        if (isConflict(error)) return false;
        throw error;
      }
    },
    /**
     * Applies `mutate` to the current value until the revision-checked write wins. `mutate`
     * returning undefined means "no change". Resolves with the value now stored (undefined if none).
     */
    async change(key: string, mutate: (current: T) => T | undefined): Promise<{ value: T; changed: boolean } | undefined> {
      for (let tries = 0; ; tries++) {
        const current = await read(key);
        if (!current) return undefined;
        const next = mutate(current.value);
        if (next === undefined) return { value: current.value, changed: false };
        try {
          await kv.update(key, encode(next), current.revision);
          return { value: next, changed: true };
        } catch (error) {
          if (!isConflict(error) || tries >= 100) throw error;
          await new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(200, 5 * (tries + 1))));
        }
      }
    },
    async keys(filter: string): Promise<string[]> {
      const out: string[] = [];
      for await (const key of await kv.keys(filter)) out.push(key);
      return out;
    },
  };
};
