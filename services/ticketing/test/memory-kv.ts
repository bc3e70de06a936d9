import type { RecordKv } from '#shared/nats/kv';

/** An in-memory KV with the server's compare-and-set semantics. */
export const memoryKv = (): RecordKv => {
  const data = new Map<string, { value: Uint8Array; revision: number }>();
  let seq = 0;
  const entry = (key: string) => {
    const e = data.get(key);
    return e && { key, value: e.value, revision: e.revision, operation: 'PUT', length: e.value.length, json: () => JSON.parse(new TextDecoder().decode(e.value)) };
  };
  return {
    get: async (key: string) => entry(key) ?? null,
    create: async (key: string, value: Uint8Array | string) => {
      if (data.has(key)) throw new Error('wrong last sequence: 1');
      data.set(key, { value: typeof value === 'string' ? new TextEncoder().encode(value) : value, revision: ++seq });
      return seq;
    },
    update: async (key: string, value: Uint8Array | string, revision: number) => {
      if (data.get(key)?.revision !== revision) throw new Error(`wrong last sequence: ${data.get(key)?.revision}`);
      data.set(key, { value: typeof value === 'string' ? new TextEncoder().encode(value) : value, revision: ++seq });
      return seq;
    },
    keys: async (filter: string) => {
      const re = new RegExp(`^${filter.replaceAll('.', '\\.').replace('*', '[^.]+')}$`);
      return (async function* () {
        for (const key of data.keys()) if (re.test(key)) yield key;
      })();
    },
  } as unknown as RecordKv;
};
