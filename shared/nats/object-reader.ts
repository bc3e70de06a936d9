import { Objm, type ObjectStore } from '@nats-io/obj';
import type { NatsConnection } from '@nats-io/transport-node';
import type { ObjectStoreSpec } from '#shared/contracts/spec';

/** Reads objects another service publishes (ticket PDFs for downloads and attachments); never writes. */
export interface ObjectReader {
  /** The object's bytes, or null when there is no such object. */
  get(name: string): Promise<Uint8Array | null>;
}

export const createObjectReader = (nc: NatsConnection, spec: Pick<ObjectStoreSpec, 'name'>): ObjectReader => {
  let store: Promise<ObjectStore> | undefined;
  return {
    async get(name) {
      // Opened, never created, on first use: a failed open (the owner has not started) is retried next time.
      store ??= new Objm(nc).open(spec.name).catch((error: unknown) => {
        store = undefined;
        throw error;
      });
      return (await store).getBlob(name);
    },
  };
};
