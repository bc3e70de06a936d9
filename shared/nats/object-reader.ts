import { Objm, type ObjectStore } from '@nats-io/obj';
import type { NatsConnection } from '@nats-io/transport-node';
import { OBJECT_STORES } from '#shared/contracts/buckets';

/** Reads ticket PDFs from ticketing's object store (gateway downloads, mailer attachments); opened, never created, on first use. */
export interface TicketFiles {
  get(object: string): Promise<Uint8Array | null>;
}

export const createTicketFiles = (nc: NatsConnection): TicketFiles => {
  let store: Promise<ObjectStore> | undefined;
  return {
    async get(object) {
      // A failed open (ticketing not started yet) is retried on the next call, not cached.
      store ??= new Objm(nc).open(OBJECT_STORES.tickets.name).catch((error: unknown) => {
        store = undefined;
        throw error;
      });
      return (await store).getBlob(object);
    },
  };
};
