/**
 * The one entry point of every service: `node services/launch.ts <service>` (what `npm run
 * service -- <name>` and the container run). Telemetry starts here, before the service's own
 * modules are imported, so fastify's instrumentation sees the app being created.
 */
import { readFileSync } from 'node:fs';
import { startTelemetry } from '#shared/observability/telemetry';

const SERVICES = ['gateway', 'webhook-ingest', 'auth', 'ticketing', 'mailer'] as const;

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
await import(new URL(`./${name}/src/main.${ext}`, import.meta.url).href);
