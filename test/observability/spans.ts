import type { ReceivedSpan } from '../otlp-receiver.ts';

export const SPAN_KIND = { internal: 1, server: 2, client: 3, producer: 4, consumer: 5 } as const;

/** The chain of spans from `span` up to its trace's root (within the spans received). */
export const ancestry = (spans: ReceivedSpan[], span: ReceivedSpan): ReceivedSpan[] => {
  const byId = new Map(spans.map((s) => [s.spanId, s]));
  const chain = [span];
  for (let parent = byId.get(span.parentSpanId); parent; parent = byId.get(parent.parentSpanId)) chain.push(parent);
  return chain;
};
