import { createServer } from 'node:net';
import { startProcess, type RunningProcess } from '../process.ts';
import { waitFor } from '../wait.ts';

/** `npm start` run by tests: free ports for everything it opens, and its "handoff ready" line. */

const listen = (port: number) =>
  new Promise<number | undefined>((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(undefined));
    server.listen(port, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : undefined));
    });
  });
// A port is free only until someone binds it: the kernel may hand the same released port out twice
// in a row, so every port chosen for one start is remembered and never chosen again.
const chosen = new Set<number>();
export const freePort = async (): Promise<number> => {
  for (;;) {
    const port = (await listen(0))!;
    if (!chosen.has(port)) {
      chosen.add(port);
      return port;
    }
  }
};
/** Three consecutive free ports: the launcher gives auth, mailer and ticketing base, base+1, base+2. */
export const freeRun = async (): Promise<number> =>
  waitFor(async () => {
    const base = await freePort();
    if (chosen.has(base + 1) || chosen.has(base + 2)) return undefined;
    const next = [await listen(base + 1), await listen(base + 2)];
    if (base + 2 >= 65_536 || !next.every((p) => p !== undefined)) return undefined;
    chosen.add(base + 1);
    chosen.add(base + 2);
    return base;
  }, { what: 'three consecutive free ports' });

export interface Ready {
  gateway: string;
  webhooks: string;
  console: string;
  inbox: string;
  payments: string;
  nats: string;
  pids: Record<string, number>;
}

/** Runs deploy/local/start.ts (what `npm start` runs) and waits for its "handoff ready" line. */
export const startLauncher = async (env: Record<string, string | undefined>): Promise<{ launcher: RunningProcess; ready: Ready }> => {
  const launcher = startProcess('deploy/local/start.ts', { env, name: 'npm start' });
  try {
    await launcher.waitForOutput(/^handoff ready \{.*\}$/m, 120_000);
  } catch (error) {
    await launcher.kill('SIGKILL');
    throw error;
  }
  const line = launcher.output().split('\n').find((l) => l.startsWith('handoff ready '))!;
  return { launcher, ready: JSON.parse(line.slice('handoff ready '.length)) as Ready };
};
