import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { waitFor } from './wait.ts';

export const repoRoot = fileURLToPath(new URL('..', import.meta.url));

export interface RunningProcess {
  child: ChildProcess;
  pid: number;
  /** Everything written to stdout and stderr so far. */
  output(): string;
  /** Resolves with the exit code (or signal name) once the process has exited. */
  exited: Promise<number | string>;
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<void>;
  kill(signal?: NodeJS.Signals): Promise<number | string>;
}

/** Runs a TypeScript entry point as a separate Node process (`node --import tsx`). */
export const startProcess = (
  script: string,
  options: { env?: Record<string, string | undefined>; args?: string[]; name?: string; echo?: boolean } = {},
): RunningProcess => {
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...(options.args ?? [])], {
    cwd: repoRoot,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const collect = (chunk: Buffer) => {
    out += chunk.toString();
    if (options.echo) process.stderr.write(`[${options.name ?? script}] ${chunk.toString()}`);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const exited = new Promise<number | string>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')),
  );
  return {
    child,
    pid: child.pid ?? -1,
    output: () => out,
    exited,
    async waitForOutput(pattern, timeoutMs = 30_000) {
      let done = false;
      void exited.then(() => (done = true));
      await waitFor(
        () => {
          if (pattern.test(out)) return true;
          if (done) throw new Error(`process exited before printing ${pattern}:\n${out.slice(-3000)}`);
          return undefined;
        },
        { timeoutMs, what: `${options.name ?? script} to print ${pattern}` },
      );
    },
    async kill(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
};

/** Whether a process exists and is not a zombie (a killed child its parent has not reaped yet). */
export const isAlive = (pid: number): boolean => {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
};

/**
 * A port nothing listens on right now (bound to 0, then released). The kernel may hand the same
 * released port out again at once, so ports already handed out by this process are skipped.
 */
const handedOut = new Set<number>();
export const freePort = async (): Promise<number> => {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const s = createServer();
      s.once('error', reject);
      s.listen(0, '127.0.0.1', () => {
        const { port: bound } = s.address() as { port: number };
        s.close(() => resolve(bound));
      });
    });
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
};
