import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import protobuf from 'protobufjs';

/**
 * A real OTLP/HTTP trace receiver for tests: decodes the protobuf (or JSON) that services export
 * to /v1/traces and keeps every span. The schema below is the subset of
 * opentelemetry/proto/collector/trace/v1 that the assertions read (field numbers as upstream).
 */
const root = protobuf.Root.fromJSON({
  nested: {
    AnyValue: { oneofs: { value: { oneof: ['stringValue', 'boolValue', 'intValue', 'doubleValue'] } }, fields: { stringValue: { type: 'string', id: 1 }, boolValue: { type: 'bool', id: 2 }, intValue: { type: 'int64', id: 3 }, doubleValue: { type: 'double', id: 4 } } },
    KeyValue: { fields: { key: { type: 'string', id: 1 }, value: { type: 'AnyValue', id: 2 } } },
    Resource: { fields: { attributes: { rule: 'repeated', type: 'KeyValue', id: 1 } } },
    Event: { fields: { timeUnixNano: { type: 'fixed64', id: 1 }, name: { type: 'string', id: 2 }, attributes: { rule: 'repeated', type: 'KeyValue', id: 3 } } },
    Link: { fields: { traceId: { type: 'bytes', id: 1 }, spanId: { type: 'bytes', id: 2 }, attributes: { rule: 'repeated', type: 'KeyValue', id: 4 } } },
    Status: { fields: { message: { type: 'string', id: 2 }, code: { type: 'int32', id: 3 } } },
    Span: {
      fields: {
        traceId: { type: 'bytes', id: 1 },
        spanId: { type: 'bytes', id: 2 },
        parentSpanId: { type: 'bytes', id: 4 },
        name: { type: 'string', id: 5 },
        kind: { type: 'int32', id: 6 },
        startTimeUnixNano: { type: 'fixed64', id: 7 },
        endTimeUnixNano: { type: 'fixed64', id: 8 },
        attributes: { rule: 'repeated', type: 'KeyValue', id: 9 },
        events: { rule: 'repeated', type: 'Event', id: 11 },
        links: { rule: 'repeated', type: 'Link', id: 13 },
        status: { type: 'Status', id: 15 },
      },
    },
    ScopeSpans: { fields: { spans: { rule: 'repeated', type: 'Span', id: 2 } } },
    ResourceSpans: { fields: { resource: { type: 'Resource', id: 1 }, scopeSpans: { rule: 'repeated', type: 'ScopeSpans', id: 2 } } },
    ExportTraceServiceRequest: { fields: { resourceSpans: { rule: 'repeated', type: 'ResourceSpans', id: 1 } } },
  },
});
const Request = root.lookupType('ExportTraceServiceRequest');
const Response = root.lookupType('ExportTraceServiceRequest'); // empty message encodes the same

type Attr = string | number | boolean;

export interface ReceivedSpan {
  service: string;
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  /** 1 internal, 2 server, 3 client, 4 producer, 5 consumer */
  kind: number;
  attributes: Record<string, Attr>;
  events: Array<{ name: string; attributes: Record<string, Attr> }>;
  links: Array<{ traceId: string; spanId: string }>;
  status: { code: number; message: string };
}

interface Decoded {
  resourceSpans?: Array<{
    resource?: { attributes?: Array<{ key: string; value?: Record<string, unknown> }> };
    scopeSpans?: Array<{ spans?: Array<Record<string, unknown>> }>;
  }>;
}

const hex = (v: unknown): string => {
  if (!v) return '';
  if (typeof v === 'string') return /^[0-9a-f]*$/i.test(v) ? v.toLowerCase() : Buffer.from(v, 'base64').toString('hex');
  return Buffer.from(v as Uint8Array).toString('hex');
};

const attrs = (list: unknown): Record<string, Attr> => {
  const out: Record<string, Attr> = {};
  for (const kv of (list as Array<{ key: string; value?: Record<string, unknown> }> | undefined) ?? []) {
    const v = kv.value ?? {};
    // int64 arrives as a string (protobuf, longs: String) or a number (JSON).
    out[kv.key] = v.intValue !== undefined ? Number(v.intValue) : ((v.stringValue ?? v.boolValue ?? v.doubleValue) as Attr);
  }
  return out;
};

export interface OtlpReceiver {
  /** Use as OTEL_EXPORTER_OTLP_ENDPOINT. */
  endpoint: string;
  spans(): ReceivedSpan[];
  requests(): { protobuf: number; json: number };
  close(): Promise<void>;
}

export const startOtlpReceiver = async (): Promise<OtlpReceiver> => {
  const received: ReceivedSpan[] = [];
  const counts = { protobuf: 0, json: 0 };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const isJson = (req.headers['content-type'] ?? '').includes('json');
      let decoded: Decoded;
      try {
        decoded = isJson ? (JSON.parse(body.toString()) as Decoded) : (Request.toObject(Request.decode(body), { longs: String, bytes: String }) as Decoded);
      } catch {
        res.writeHead(400).end();
        return;
      }
      if (isJson) counts.json++;
      else counts.protobuf++;
      for (const rs of decoded.resourceSpans ?? []) {
        const service = String(attrs(rs.resource?.attributes)['service.name'] ?? '');
        for (const ss of rs.scopeSpans ?? []) {
          for (const s of ss.spans ?? []) {
            received.push({
              service,
              traceId: hex(s.traceId),
              spanId: hex(s.spanId),
              parentSpanId: hex(s.parentSpanId),
              name: String(s.name ?? ''),
              kind: Number(s.kind ?? 0),
              attributes: attrs(s.attributes),
              events: ((s.events as Array<Record<string, unknown>> | undefined) ?? []).map((e) => ({ name: String(e.name), attributes: attrs(e.attributes) })),
              links: ((s.links as Array<Record<string, unknown>> | undefined) ?? []).map((l) => ({ traceId: hex(l.traceId), spanId: hex(l.spanId) })),
              status: { code: Number((s.status as { code?: number } | undefined)?.code ?? 0), message: String((s.status as { message?: string } | undefined)?.message ?? '') },
            });
          }
        }
      }
      if (isJson) res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      else res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end(Buffer.from(Response.encode(Response.create({})).finish()));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    spans: () => [...received],
    requests: () => ({ ...counts }),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
};
