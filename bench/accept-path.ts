import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import autocannon from 'autocannon';
import { fileURLToPath } from 'node:url';
import { STREAMS } from '#shared/contracts/streams';
import { ensureStream } from '#shared/nats/ensure';
import { createLogger } from '#shared/observability/logger';
import { parseResultLine, startChild, type BenchChild } from './child-process.ts';
import type { MemoryTracker } from './memory.ts';
import type { AcceptPathResult, AcceptTargetResult } from './result.ts';
import { summarize } from './stats.ts';

export interface AcceptPathOptions {
  natsUrl: string;
  runs: number;
  connections: number;
  durationSec: number;
  smtpDelayMs: number;
  memory?: MemoryTracker;
  progress?: (line: string) => void;
}

type TargetId = 'gateway' | 'fastify' | 'pubak' | 'naive';
const LABELS: Record<TargetId, string> = {
  gateway: 'Handoff gateway: POST /auth/magic-link (rate limits + durable publish, 202)',
  fastify: 'bare fastify handler returning 202 (ceiling)',
  pubak: 'bare fastify handler awaiting one JetStream PubAck per request (baseline)',
  naive: 'naive handler sending the email inline over SMTP (200 ms relay)',
};

const WARM_UP_SEC = 3;
const child = (name: string) => fileURLToPath(new URL(`./children/${name}.ts`, import.meta.url));
const LAUNCH = fileURLToPath(new URL('../services/launch.ts', import.meta.url));
const readyPort = async (c: BenchChild) => parseResultLine<{ port: number }>(await c.waitForLine(/^\{"bench":\{"phase":"ready"/, 60_000)).port;

interface Figures {
  reqPerSec: number;
  p50Ms: number;
  p99Ms: number;
  non2xx: number;
  errors: number;
}

/**
 * Every request carries a new email address (a burst of different users signing in) and one of
 * 1,000 client addresses in X-Forwarded-For, so the gateway's per-email and per-address limiters
 * do the work they do in production instead of all hitting one key. Every target gets the same
 * requests, so the generator's own cost is the same for all three.
 */
const load = async (url: string, connections: number, durationSec: number): Promise<Figures> => {
  let n = 0;
  const result = await autocannon({
    url,
    connections,
    duration: durationSec,
    requests: [
      {
        method: 'POST',
        path: '/auth/magic-link',
        setupRequest: (request) => {
          n++;
          return {
            ...request,
            headers: { 'content-type': 'application/json', 'x-forwarded-for': `10.0.${(n >> 8) & 3}.${n & 255}` },
            body: JSON.stringify({ email: `bench-${process.pid}-${n}@example.com` }),
          };
        },
      },
    ],
  });
  return {
    reqPerSec: result.requests.average,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
  };
};

export const runAcceptPath = async (options: AcceptPathOptions): Promise<AcceptPathResult> => {
  const children: BenchChild[] = [];
  const unwatch: (() => void)[] = [];
  const urls = new Map<TargetId, string>();
  const failures = new Map<TargetId, string>();
  const watch = (c: BenchChild, process: string, worker: boolean) =>
    options.memory && unwatch.push(options.memory.watch({ comparison: 'accept', process, pid: c.pid, worker }));
  try {
    // The AUTH stream belongs to the auth service, which does not run here: declared as it would.
    const admin = await connect({ servers: options.natsUrl });
    await ensureStream({ jsm: await jetstreamManager(admin), log: createLogger({ service: 'bench', level: 'silent' }), replicas: 1 }, STREAMS.AUTH);
    await admin.close();
    // The gateway exactly as deployed (its own process, default log level), with the rate limits
    // raised far above what the load sends and the client address taken from X-Forwarded-For.
    const gateway = startChild('gateway', LAUNCH, {
      args: ['gateway'],
      env: {
        NATS_URL: options.natsUrl,
        GATEWAY_PORT: '0',
        GATEWAY_HOST: '127.0.0.1',
        HEALTH_PORT: '0',
        TRUST_PROXY: '1',
        RATE_LIMIT_EMAIL_NETWORK_MAX: '1000000000',
        RATE_LIMIT_EMAIL_MAX: '1000000000',
        RATE_LIMIT_IP_MAX: '1000000000',
      },
    });
    children.push(gateway);
    const fastify = startChild('bare-fastify', child('bare-fastify'));
    children.push(fastify);
    const pubak = startChild('bare-pubak', child('bare-pubak'), { env: { NATS_URL: options.natsUrl } });
    children.push(pubak);
    const smtp = startChild('slow-smtp', child('slow-smtp'), { env: { BENCH_SMTP_DELAY_MS: String(options.smtpDelayMs) } });
    children.push(smtp);

    await gateway
      .waitForLine(/"msg":"service ready"/, 60_000)
      .then((line) => {
        urls.set('gateway', `http://127.0.0.1:${(JSON.parse(line) as { port: number }).port}`);
        watch(gateway, 'gateway', false);
      })
      .catch((error: unknown) => failures.set('gateway', `gateway did not start: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`));
    urls.set('fastify', `http://127.0.0.1:${await readyPort(fastify)}`);
    watch(fastify, 'bare fastify', false);
    urls.set('pubak', `http://127.0.0.1:${await readyPort(pubak)}`);
    watch(pubak, 'bare PubAck', false);
    const naive = startChild('naive-smtp', child('naive-smtp'), { env: { BENCH_SMTP_PORT: String(await readyPort(smtp)) } });
    children.push(naive);
    urls.set('naive', `http://127.0.0.1:${await readyPort(naive)}`);
    watch(naive, 'naive inline-SMTP', false);
    watch(smtp, 'slow SMTP relay', false);

    const ids: TargetId[] = ['gateway', 'fastify', 'pubak', 'naive'];
    // An unmeasured round first: the JIT and the connection pools warm up outside the figures. 3 s,
    // not 1: the gateway's request path crosses far more code than the bare handlers, and after 1 s
    // its first measured run was a quarter of the later ones (643 vs 2,868 req/s).
    for (const id of ids) {
      const url = urls.get(id);
      if (url) await load(url, options.connections, WARM_UP_SEC);
    }
    const figures = new Map<TargetId, Figures[]>();
    for (let run = 1; run <= options.runs; run++) {
      for (const id of ids) {
        const url = urls.get(id);
        if (!url) continue;
        const f = await load(url, options.connections, options.durationSec);
        figures.set(id, [...(figures.get(id) ?? []), f]);
        options.progress?.(`accept ${id} run ${run}: ${Math.round(f.reqPerSec)} req/s p50 ${f.p50Ms} ms p99 ${f.p99Ms} ms non2xx ${f.non2xx} errors ${f.errors}`);
      }
    }
    const targets: AcceptTargetResult[] = ids.map((id) => {
      const runs = figures.get(id) ?? [];
      if (runs.length === 0) return { id, label: LABELS[id], skipped: failures.get(id) ?? 'not run' };
      const pick = (k: keyof Figures) => summarize(runs.map((r) => r[k]));
      return { id, label: LABELS[id], reqPerSec: pick('reqPerSec'), p50Ms: pick('p50Ms'), p99Ms: pick('p99Ms'), non2xx: pick('non2xx'), errors: pick('errors') };
    });
    return {
      method: {
        connections: options.connections,
        durationSec: options.durationSec,
        notes: [
          `autocannon in the benchmark process, ${options.connections} connections, ${options.durationSec} s per run after a ${WARM_UP_SEC} s warm-up; latency percentiles from autocannon's HDR histogram.`,
          'Each target is its own process; the gateway runs at its default log level (one line per request) against a fresh nats-server; no auth worker consumes the jobs, so they pile up in AUTH as they would behind a slow worker.',
          'Each request: a new email address, one of 1,000 client addresses (X-Forwarded-For, TRUST_PROXY=1); gateway rate limits raised to 10^9 per window.',
          'The bare PubAck handler publishes the request body to the gateway\'s subject in AUTH and answers 202 after the PubAck: no validation, no limits, no tracing.',
          `The naive handler sends over nodemailer (no pool) to an SMTP relay in its own process that takes ${options.smtpDelayMs} ms per message.`,
        ],
      },
      targets,
    };
  } finally {
    for (const u of unwatch) u();
    await Promise.all(children.map((c) => c.stop('SIGTERM', 5_000)));
  }
};
