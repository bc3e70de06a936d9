/**
 * Once per vitest run: which nats-server every test starts. NATS_SERVER_BIN when set (npm test
 * sets it per pass: the current server, then the floor), else the newest Debian release fetched
 * by deploy/nats/current-server.sh. The choice is exported to the test workers through the
 * environment and printed, so every test log says which server it proved.
 */
import { natsServerVersion, resolveNatsServerBin } from '../deploy/nats/nats-server-binary.ts';

export default function setup(): void {
  const binary = resolveNatsServerBin();
  const version = natsServerVersion(binary);
  process.env.NATS_SERVER_BIN = binary;
  process.env.NATS_SERVER_VERSION = version;
  console.log(`nats-server ${version} (${binary})`);
}
