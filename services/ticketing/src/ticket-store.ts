import type { ObjectStore } from '@nats-io/obj';

/** Ticket PDFs in the `tickets` object store, by their deterministic names. */
export interface TicketStore {
  /** Size of a stored ticket, undefined when it is not stored. */
  size(name: string): Promise<number | undefined>;
  put(name: string, pdf: Uint8Array): Promise<void>;
}

export const createTicketStore = (obj: Pick<ObjectStore, 'info' | 'putBlob'>): TicketStore => ({
  async size(name) {
    const info = await obj.info(name);
    return info && !info.deleted ? info.size : undefined;
  },
  async put(name, pdf) {
    await obj.putBlob({ name }, pdf);
  },
});
