/**
 * The one entry point of every service: `node services/launch.ts <service>` (what `npm run
 * service -- <name>` and the container run). It exists so process-wide set-up that must come
 * before the service's own imports (telemetry) has one place to happen.
 */
const SERVICES = ['gateway', 'webhook-ingest', 'auth', 'ticketing', 'mailer'] as const;

const name = process.argv[2];
if (!name || !(SERVICES as readonly string[]).includes(name)) {
  console.error(`usage: npm run service -- <${SERVICES.join('|')}>`);
  process.exit(2);
}

const ext = import.meta.url.endsWith('.ts') ? 'ts' : 'js';
await import(new URL(`./${name}/src/main.${ext}`, import.meta.url).href);
