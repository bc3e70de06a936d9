import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { compiledEntry, repoRoot } from './compiled.ts';

export { repoRoot };

/**
 * How a child runs: `compiled` (default) is `node dist/….js`, the container's form, after
 * `ensureCompiled()` (the harness calls it once per run); `source` is `node --import tsx ….ts`.
 */
export type ChildForm = 'compiled' | 'source';

let defaultForm: ChildForm = 'compiled';
/** `--form source` (run.ts → harness): every child of this benchmark run under tsx, for comparison. */
export const setDefaultChildForm = (form: ChildForm) => {
  defaultForm = form;
};

export interface BenchChild {
  name: string;
  pid: number;
  child: ChildProcess;
  /** The next stdout line matching `pattern` (lines already seen count too, unless consumed). */
  waitForLine(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** The last few KB of output, for error messages. */
  tail(): string;
  exited: Promise<number | string>;
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<number | string>;
}

const TAIL_CHARS = 8_000;
const KEEP_LINES = 200;

/**
 * Runs a TypeScript entry of this repository — by default its compiled form in dist/ — and reads
 * its output line by line. Unlike the test helper it keeps only a bounded tail: a service logging
 * one line per request for minutes must not grow a string in the process generating the load.
 */
export const startChild = (
  name: string,
  script: string,
  options: { args?: string[]; env?: Record<string, string | undefined>; nodeArgs?: string[]; form?: ChildForm } = {},
): BenchChild => {
  const entry = (options.form ?? defaultForm) === 'compiled' ? [compiledEntry(script)] : ['--import', 'tsx', script];
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), ...entry, ...(options.args ?? [])], {
    cwd: repoRoot,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let tail = '';
  const pending: string[] = [];
  const waiters = new Set<{ pattern: RegExp; resolve: (line: string) => void }>();
  const onLine = (line: string) => {
    tail = (tail + line + '\n').slice(-TAIL_CHARS);
    for (const w of waiters) {
      if (w.pattern.test(line)) {
        waiters.delete(w);
        w.resolve(line);
        return;
      }
    }
    pending.push(line);
    if (pending.length > KEEP_LINES) pending.shift();
  };
  if (child.stdout) createInterface({ input: child.stdout }).on('line', onLine);
  if (child.stderr) createInterface({ input: child.stderr }).on('line', (line) => (tail = (tail + line + '\n').slice(-TAIL_CHARS)));
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')));
  let hasExited = false;
  void exited.then(() => (hasExited = true));

  return {
    name,
    pid: child.pid ?? -1,
    child,
    tail: () => tail,
    exited,
    waitForLine(pattern, timeoutMs = 60_000) {
      const index = pending.findIndex((line) => pattern.test(line));
      if (index >= 0) return Promise.resolve(pending.splice(index, 1)[0] as string);
      return new Promise<string>((resolve, reject) => {
        const waiter = { pattern, resolve: (line: string) => (clearTimeout(timer), resolve(line)) };
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          reject(new Error(`${name}: no line matching ${pattern} within ${timeoutMs} ms; output tail:\n${tail.slice(-2_000)}`));
        }, timeoutMs);
        waiters.add(waiter);
        void exited.then((code) => {
          if (!waiters.has(waiter)) return;
          waiters.delete(waiter);
          clearTimeout(timer);
          reject(new Error(`${name} exited (${code}) before printing ${pattern}; output tail:\n${tail.slice(-2_000)}`));
        });
      });
    },
    async stop(signal = 'SIGTERM', timeoutMs = 10_000) {
      if (hasExited) return exited;
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
};

/** Parses a `{"bench": …}` result line a child printed on stdout. */
export const parseResultLine = <T>(line: string): T => (JSON.parse(line) as { bench: T }).bench;
