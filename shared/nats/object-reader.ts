import { createHash } from 'node:crypto';
import { jetstreamManager, type JetStreamManager, type NextMsgRequest, type StoredMsg } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { ObjectStoreSpec } from '#shared/contracts/spec';

/** Reads objects another service publishes (ticket PDFs for downloads and attachments); never writes. */
export interface ObjectReader {
  /** The object's bytes, or null when there is no such object. */
  get(name: string): Promise<Uint8Array | null>;
}

/**
 * Reads that leave nothing behind on the server. The object store client's `getBlob` creates a
 * consumer per read that lingers until its inactive threshold, and 2.10+ servers refuse a stream's
 * 1,001st consumer: a thousand ticket downloads within minutes would stop every tickets email. So
 * an object is read with message gets, the layout @nats-io/obj writes:
 *
 *   $O.<bucket>.M.<base64url(name)>  its meta (JSON: nuid, size, chunks, digest), the last one wins
 *   $O.<bucket>.C.<nuid>             its chunks in order, all published before the meta
 *
 * The meta is the last message on its subject; the chunks are found with next-by-subject from the
 * previous chunk's sequence. Direct gets (the object store is created with `allow_direct`; 2.9+)
 * may be answered by any replica, and a follower can lag the leader: a read that finds the object
 * missing or incomplete there is done again through the stream leader, which has every
 * acknowledged write. The content is checked against the meta's SHA-256 digest.
 */
export const createObjectReader = (nc: NatsConnection, spec: Pick<ObjectStoreSpec, 'name'>): ObjectReader => {
  const stream = `OBJ_${spec.name}`;
  let opened: Promise<{ jsm: JetStreamManager; direct: boolean }> | undefined;
  const open = () =>
    // Opened, never created, on first use: a failed open (the owner has not started) is retried next time.
    (opened ??= (async () => {
      const jsm = await jetstreamManager(nc);
      const info = await jsm.streams.info(stream);
      return { jsm, direct: info.config.allow_direct === true };
    })().catch((error: unknown) => {
      opened = undefined;
      throw error;
    }));

  return {
    async get(name) {
      const { jsm, direct } = await open();
      const viaLeader: MessageGet = (query) => jsm.streams.getMessage(stream, query as { seq: number });
      if (direct) {
        const first = await readObject((query) => jsm.direct.getMessage(stream, query), spec.name, name);
        if (first !== INCOMPLETE && first !== null) return first;
      }
      // The leader; an object replaced between reading its meta and its chunks is read again.
      for (let tries = 0; tries < 3; tries++) {
        const read = await readObject(viaLeader, spec.name, name);
        if (read !== INCOMPLETE) return read;
      }
      throw new Error(`object ${name} in ${stream} kept changing while it was read`);
    },
  };
};

type MessageGet = (query: { last_by_subj: string } | NextMsgRequest) => Promise<StoredMsg | null>;

const INCOMPLETE = Symbol('incomplete');

/** What @nats-io/obj stores as an object's meta (the fields a read needs). */
interface ObjectMeta {
  name: string;
  nuid: string;
  size: number;
  chunks: number;
  digest: string;
  deleted?: boolean;
  options?: { link?: unknown };
}

const base64Url = (text: string) => Buffer.from(text, 'utf8').toString('base64').replace(/\+/g, '-').replace(/\//g, '_');
export const metaSubject = (bucket: string, name: string) => `$O.${bucket}.M.${base64Url(name)}`;
export const chunkSubject = (bucket: string, nuid: string) => `$O.${bucket}.C.${nuid}`;

const readObject = async (get: MessageGet, bucket: string, name: string): Promise<Uint8Array | null | typeof INCOMPLETE> => {
  const stored = await get({ last_by_subj: metaSubject(bucket, name) });
  if (!stored) return null;
  const meta = stored.json<ObjectMeta>();
  if (meta.deleted) return null;
  if (meta.options?.link) throw new Error(`object ${name} is a link; links are not read here`);
  const subject = chunkSubject(bucket, meta.nuid);
  const parts: Uint8Array[] = [];
  let seq = 0;
  for (let i = 0; i < meta.chunks; i++) {
    // A lone chunk is also its subject's last message: one lookup, no walk from the start.
    const chunk = meta.chunks === 1 ? await get({ last_by_subj: subject }) : await get({ seq: seq + 1, next_by_subj: subject });
    if (!chunk) return INCOMPLETE;
    parts.push(chunk.data);
    seq = chunk.seq;
  }
  const data = Buffer.concat(parts);
  if (data.length !== meta.size) return INCOMPLETE;
  if (!digestMatches(meta.digest, data)) throw new Error(`object ${name} in OBJ_${bucket} is corrupt: its SHA-256 does not match its meta`);
  return new Uint8Array(data.buffer, data.byteOffset, data.length);
};

/** `SHA-256=<base64url, padded>` as @nats-io/obj writes it; other clients' base64 and hex spellings are accepted. */
export const digestMatches = (digest: string, data: Uint8Array): boolean => {
  if (!digest.startsWith('SHA-256=')) throw new Error(`unknown digest type: ${digest}`);
  const value = digest.slice('SHA-256='.length);
  const expected = /^[0-9a-fA-F]{64}$/.test(value) ? Buffer.from(value, 'hex') : Buffer.from(value.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
  return expected.equals(createHash('sha256').update(data).digest());
};
