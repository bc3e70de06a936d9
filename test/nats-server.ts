import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveNatsServerBin } from '../deploy/nats/nats-server-binary.ts';
import { waitFor } from './wait.ts';

// NATS_SERVER_BIN (the tests' global setup sets it), else the current server from current-server.sh.
let binary: string | undefined;
const natsServerBin = () => (binary ??= resolveNatsServerBin());

/**
 * The servers a version-dependent feature is tested on: the one under test (NATS_SERVER_BIN) and,
 * when that is another, Debian bookworm's 2.9.10, the floor.
 */
export const FLOOR_BINARY = '/usr/sbin/nats-server';
export const serversUnderTest = (): Array<{ label: string; binary: string }> => {
  const binary = natsServerBin();
  return binary === FLOOR_BINARY || binary === 'nats-server' ? [{ label: 'this server', binary }] : [{ label: 'the current server', binary }, { label: 'the 2.9 floor', binary: FLOOR_BINARY }];
};

export interface NatsServer {
  url: string;
  port: number;
  storeDir: string;
  pid(): number | undefined;
  /** SIGKILL: no flush, no goodbye — the crash case. */
  kill(): Promise<void>;
  /** Starts again on the same port and store. */
  restart(): Promise<void>;
  /** Stops and deletes the store. */
  stop(): Promise<void>;
}

export interface StartOptions {
  /** Extra config-file text (accounts, cluster); written next to the store. */
  config?: string;
  args?: string[];
  /** Reuse a store (e.g. a cluster node); default a fresh temp dir. */
  storeDir?: string;
  port?: number;
  /** The nats-server to run; default NATS_SERVER_BIN, else the current one (the benchmark runs both). */
  binary?: string;
}

const exited = (child: ChildProcess) =>
  new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });

/**
 * Starts a real nats-server with JetStream on a random port (`-p -1`, read back from the ports
 * file), as nats.js's own tests do, with a fresh store that is deleted on stop.
 */
export const startNatsServer = async (options: StartOptions = {}): Promise<NatsServer> => {
  const root = mkdtempSync(join(tmpdir(), 'handoff-nats-'));
  const storeDir = options.storeDir ?? join(root, 'store');
  const portsDir = join(root, 'ports');
  const args = ['-a', '127.0.0.1', '-js', '-sd', storeDir, '--ports_file_dir', portsDir, ...(options.args ?? [])];
  if (options.config) {
    const configPath = join(root, 'server.conf');
    writeFileSync(configPath, options.config);
    args.push('-c', configPath);
  }
  let port = options.port ?? -1;
  let child: ChildProcess | undefined;
  let logTail = '';

  const launch = async () => {
    rmSync(portsDir, { recursive: true, force: true });
    mkdirSync(portsDir, { recursive: true });
    const proc = spawn(options.binary ?? natsServerBin(), [...args, '-p', String(port)], { stdio: ['ignore', 'ignore', 'pipe'] });
    child = proc;
    proc.stderr?.on('data', (chunk: Buffer) => {
      logTail = (logTail + chunk.toString()).slice(-4000);
    });
    const url = await waitFor(
      () => {
        if (proc.exitCode !== null) throw new Error(`nats-server exited ${proc.exitCode}: ${logTail}`);
        try {
          const file = readdirSync(portsDir).find((name) => name.endsWith('.ports'));
          if (!file) return undefined;
          const ports = JSON.parse(readFileSync(join(portsDir, file), 'utf8')) as { nats: string[] };
          return ports.nats[0];
        } catch {
          return undefined;
        }
      },
      { timeoutMs: 15_000, what: 'nats-server ports file' },
    );
    port = Number(new URL(url).port);
    // The ports file appears before JetStream finishes recovering its store; wait for the log line.
    await waitFor(() => /Server is ready/.test(logTail) || undefined, { timeoutMs: 30_000, what: 'nats-server ready' });
  };

  await launch();
  const server: NatsServer = {
    get url() {
      return `nats://127.0.0.1:${port}`;
    },
    get port() {
      return port;
    },
    storeDir,
    pid: () => child?.pid,
    async kill() {
      if (!child) return;
      child.kill('SIGKILL');
      await exited(child);
    },
    async restart() {
      if (child && child.exitCode === null && child.signalCode === null) await server.kill();
      logTail = '';
      await launch();
    },
    async stop() {
      if (child) {
        child.kill('SIGTERM');
        await Promise.race([exited(child), new Promise((r) => setTimeout(r, 3_000))]);
        child.kill('SIGKILL');
        await exited(child);
      }
      rmSync(root, { recursive: true, force: true });
    },
  };
  return server;
};
