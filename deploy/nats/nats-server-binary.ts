/**
 * Which nats-server binary the tests, the benchmark and `npm start` run: `NATS_SERVER_BIN` when
 * set, otherwise the newest one Debian offers, fetched (once, then cached) by current-server.sh.
 * The floor the project still supports is the distribution's own package (bookworm: 2.9.10).
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const CURRENT_SERVER_SCRIPT = fileURLToPath(new URL('./current-server.sh', import.meta.url));

/** The oldest server the project supports, where bookworm installs it. */
export const FLOOR_SERVER_BIN = '/usr/sbin/nats-server';

let current: string | undefined;

/**
 * Path of the newest Debian nats-server, fetched into the git-ignored cache when missing (the
 * script's messages go to this process's stderr). Throws when it can be neither fetched nor found.
 */
export const currentNatsServerBin = (): string => {
  current ??= execFileSync('bash', [CURRENT_SERVER_SCRIPT], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
  return current;
};

/** The floor binary: `NATS_FLOOR_BIN`, else the distribution's package, else `nats-server` on PATH. */
export const floorNatsServerBin = (): string => process.env.NATS_FLOOR_BIN || (existsSync(FLOOR_SERVER_BIN) ? FLOOR_SERVER_BIN : 'nats-server');

/** `NATS_SERVER_BIN` when set (any server, e.g. the floor), otherwise the current one. */
export const resolveNatsServerBin = (): string => process.env.NATS_SERVER_BIN || currentNatsServerBin();

/** `2.15.1` from `nats-server: v2.15.1`; throws when the binary does not run. */
export const natsServerVersion = (binary: string): string => {
  const out = execFileSync(binary, ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 });
  const match = /v?(\d+\.\d+\.\d+\S*)/.exec(out);
  if (!match?.[1]) throw new Error(`${binary} --version printed no version: ${out.trim()}`);
  return match[1];
};
