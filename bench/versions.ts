import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem, type } from 'node:os';
import { fileURLToPath } from 'node:url';

const PACKAGES = [
  '@nats-io/jetstream',
  '@nats-io/transport-node',
  'bullmq',
  'ioredis',
  'fastify',
  'autocannon',
  'nodemailer',
  'smtp-server',
  'hdr-histogram-js',
  'pino',
] as const;

const packageVersion = (name: string): string => {
  try {
    const path = fileURLToPath(new URL(`../node_modules/${name}/package.json`, import.meta.url));
    return (JSON.parse(readFileSync(path, 'utf8')) as { version: string }).version;
  } catch {
    return 'not installed';
  }
};

const commandVersion = (command: string, args: string[], pattern: RegExp): string => {
  try {
    const out = execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 5_000 });
    return pattern.exec(out)?.[1] ?? out.trim();
  } catch {
    return 'not found';
  }
};

/** Versions of everything whose speed is being compared, so a table can be reproduced or explained. */
export const collectVersions = (natsServerBin = process.env.NATS_SERVER_BIN ?? 'nats-server'): Record<string, string> => ({
  node: process.version,
  'nats-server': commandVersion(natsServerBin, ['--version'], /v?(\d+\.\d+\.\d+\S*)/),
  'redis-server (binary)': commandVersion('redis-server', ['--version'], /v=(\S+)/),
  ...Object.fromEntries(PACKAGES.map((name) => [name, packageVersion(name)])),
});

export const machineFacts = () => {
  const list = cpus();
  return {
    cpus: list.length,
    cpuModel: list[0]?.model.trim() ?? 'unknown',
    memoryGb: Math.round((totalmem() / 1024 ** 3) * 10) / 10,
    os: `${type()} ${release()}`,
    loadAverageAtStart: loadavg().map((n) => Math.round(n * 100) / 100),
  };
};
