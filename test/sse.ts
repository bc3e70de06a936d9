/** A text/event-stream read the way a client does: events, comments and the end, in arrival order. */
export interface SseItem {
  kind: 'event' | 'comment' | 'retry';
  id?: string;
  data?: string;
  text?: string;
}

export interface SseStream {
  status: number;
  headers: Headers;
  /** The body of a response that is not a stream (a problem). */
  body(): Promise<string>;
  /** The next event (comments skipped unless `comments`); undefined once the stream ended. */
  next(options?: { comments?: boolean; timeoutMs?: number }): Promise<SseItem | undefined>;
  /** Resolves when the server ended the stream. */
  ended: Promise<void>;
  /** Everything received so far. */
  items: SseItem[];
  close(): void;
}

const parseBlock = (block: string): SseItem[] => {
  const items: SseItem[] = [];
  const data: string[] = [];
  let id: string | undefined;
  for (const line of block.split('\n')) {
    if (line.startsWith(':')) items.push({ kind: 'comment', text: line.slice(1).trim() });
    else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
    else if (line.startsWith('id:')) id = line.slice(3).replace(/^ /, '');
    else if (line.startsWith('retry:')) items.push({ kind: 'retry', text: line.slice(6).trim() });
  }
  if (data.length > 0) items.push({ kind: 'event', data: data.join('\n'), ...(id === undefined ? {} : { id }) });
  return items;
};

export const openSse = async (url: string, headers: Record<string, string> = {}): Promise<SseStream> => {
  const abort = new AbortController();
  const response = await fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal: abort.signal });
  const items: SseItem[] = [];
  let read = 0;
  let wake: (() => void) | undefined;
  let done = false;
  const isStream = response.ok && (response.headers.get('content-type') ?? '').startsWith('text/event-stream');
  const ended = (async () => {
    if (!isStream || !response.body) {
      done = true;
      return;
    }
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of response.body) {
        buffer += decoder.decode(chunk as Uint8Array, { stream: true });
        let end;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          items.push(...parseBlock(buffer.slice(0, end)));
          buffer = buffer.slice(end + 2);
          wake?.();
        }
      }
    } catch {
      // closed by us
    } finally {
      done = true;
      wake?.();
    }
  })();
  return {
    status: response.status,
    headers: response.headers,
    body: () => response.text(),
    items,
    ended,
    close: () => abort.abort(),
    async next(options = {}) {
      const deadline = Date.now() + (options.timeoutMs ?? 30_000);
      for (;;) {
        while (read < items.length) {
          const item = items[read++]!;
          if (item.kind === 'event' || (options.comments && item.kind === 'comment')) return item;
        }
        if (done) return undefined;
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`no server-sent event within ${options.timeoutMs ?? 30_000} ms; got so far: ${JSON.stringify(items)}`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, left);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
    },
  };
};
