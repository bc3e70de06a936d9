/**
 * Renders deploy/nats/accounts.conf from the contracts:
 *   node --import tsx deploy/nats/generate.ts          (write)
 *   node --import tsx deploy/nats/generate.ts --check  (exit 1 if the committed file differs)
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { renderAccounts } from './permissions.ts';

const target = fileURLToPath(new URL('./accounts.conf', import.meta.url));
const wanted = renderAccounts();

if (process.argv.includes('--check')) {
  const current = readFileSync(target, 'utf8');
  if (current !== wanted) {
    console.error('deploy/nats/accounts.conf is stale: run node --import tsx deploy/nats/generate.ts');
    process.exit(1);
  }
} else {
  writeFileSync(target, wanted);
  console.log(`wrote ${target}`);
}
