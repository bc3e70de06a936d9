/**
 * The one entry point of every service: `node services/launch.ts <service>` (what `npm run
 * service -- <name>` and the container run). Telemetry starts here, before the service's own
 * modules are imported, so fastify's instrumentation sees the app being created.
 */
import { readFileSync } from 'node:fs';
import type { CommonConfig } from '#shared/config/env';
import { startTelemetry } from '#shared/observability/telemetry';
import type { ServiceDefinition } from '#shared/service/run-service';

const SERVICES = ['gateway', 'webhook-ingest', 'auth', 'ticketing', 'mailer', 'console'] as const;

const name = process.argv[2];
if (!name || !(SERVICES as readonly string[]).includes(name)) {
  console.error(`usage: npm run service -- <${SERVICES.join('|')}>`);
  process.exit(2);
}

const root = new URL(import.meta.url.endsWith('.ts') ? '../' : '../../', import.meta.url);
const { version } = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as { version: string };
try {
  startTelemetry({ service: name, version, env: process.env });
} catch (error) {
  console.error(error instanceof Error ? error.message : error);
  process.exit(2);
}

const ext = import.meta.url.endsWith('.ts') ? 'ts' : 'js';
// Each main.ts default-exports its declaration; the one bootstrap runs it.
const [{ default: service }, { runService }] = await Promise.all([
  import(new URL(`./${name}/src/main.${ext}`, import.meta.url).href) as Promise<{ default: ServiceDefinition<CommonConfig> }>,
  import('#shared/service/run-service'),
]);
await runService(service, process.env);
