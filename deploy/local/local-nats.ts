import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { connect } from '@nats-io/transport-node';
import { FLOOR_SERVER_BIN, natsServerVersion, resolveNatsServerBin } from '../nats/nats-server-binary.ts';

/** True when a NATS server answers at `url` within a second. */
export const natsAnswers = async (url: string): Promise<boolean> => {
  try {
    const nc = await connect({ servers: url.split(','), timeout: 1_000, maxReconnectAttempts: 0, reconnect: false });
    await nc.close();
    return true;
  } catch {
    return false;
  }
};

/**
 * The server `npm start` runs: NATS_SERVER_BIN when set, else the newest Debian release
 * (deploy/nats/current-server.sh: fetched once into .cache/, then reused), else, when that cannot
 * be fetched (offline, no apt), an installed nats-server.
 */
const findBinary = (log: (line: string) => void): { binary: string; version: string } | undefined => {
  try {
    const binary = resolveNatsServerBin();
    return { binary, version: natsServerVersion(binary) };
  } catch (error) {
    log(`the current nats-server could not be fetched (${error instanceof Error ? error.message.split('\n')[0] : String(error)}); looking for an installed one`);
  }
  for (const candidate of ['nats-server', FLOOR_SERVER_BIN, '/usr/local/bin/nats-server']) {
    if (spawnSync(candidate, ['--version'], { stdio: 'ignore' }).status === 0) return { binary: candidate, version: natsServerVersion(candidate) };
  }
  return undefined;
};

/**
 * Starts a nats-server with JetStream for `npm start`, its store under the data directory so a
 * second start finds the same users, orders and jobs.
 */
export const startLocalNats = async (options: { url: string; storeDir: string; log: (line: string) => void }): Promise<ChildProcess> => {
  const found = findBinary(options.log);
  if (!found) {
    throw new Error(
      'no NATS server answers at NATS_URL, the current nats-server could not be fetched and none is installed.\n' +
        '  deploy/nats/current-server.sh fetches it with apt-get and dpkg-deb (Debian/Ubuntu); or install one\n' +
        '  (macOS: brew install nats-server) or set NATS_SERVER_BIN to its path,\n' +
        '  or point NATS_URL at a running server started with JetStream (-js).',
    );
  }
  const { binary, version } = found;
  options.log(`starting nats-server ${version} (${binary})`);
  const { hostname, port } = new URL(options.url.split(',')[0]!);
  mkdirSync(options.storeDir, { recursive: true });
  const child = spawn(binary, ['-js', '-a', hostname || '127.0.0.1', '-p', port || '4222', '-sd', options.storeDir, '-m', '0'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    // Out of the terminal's process group: on Ctrl-C the server must outlive the services that are
    // still acking their last jobs; the launcher stops it last.
    detached: true,
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n')) if (/\[(ERR|WRN|FTL)\]/.test(line)) options.log(line);
  });
  const deadline = Date.now() + 15_000;
  while (!(await natsAnswers(options.url))) {
    if (child.exitCode !== null) throw new Error(`nats-server exited with code ${child.exitCode} (is port ${port} taken?)`);
    if (Date.now() > deadline) throw new Error('nats-server did not start within 15 s');
    await new Promise((r) => setTimeout(r, 100));
  }
  return child;
};
