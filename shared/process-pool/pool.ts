import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/**
 * Runs a module's default export in long-lived child processes, one call at a time each. On abort
 * the child's whole process group is SIGKILLed — including any subprocess the work started — and
 * replaced. This is what makes a timeout stop a zombie instead of merely ignoring it.
 */
export interface ProcessPool<I, O> {
  run(input: I, signal: AbortSignal): Promise<O>;
  /** Children alive now (for tests and health). */
  pids(): number[];
  close(): Promise<void>;
}

export interface ProcessPoolOptions {
  /** Absolute path or file URL of a module whose default export is `async (input) => output`. */
  module: string | URL;
  size: number;
  /** Node flags for children; defaults to the parent's (so `--import tsx` carries over). */
  execArgv?: string[];
  /** V8 flags for the children only (e.g. a smaller young generation), after `execArgv`. */
  v8Flags?: readonly string[];
  /**
   * Keep `size` children started ahead of the work, and start a replacement as soon as one is
   * killed, so loading the module (and its `warm()`) never eats into a job's timeout. Without it
   * a child starts on first use, and on a loaded machine a heavy module's start-up plus one job
   * can outlast the timeout every time: each retry killing the child it just started.
   */
  warm?: boolean;
}

interface Slot {
  child: ChildProcess;
  busy: boolean;
  /** Killed or exited: never handed out again. */
  dead: boolean;
}

type Reply = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: string; name: string };

/** The child's error as the caller sees it: its message and its name (a `PermanentError` stays one). */
const childError = (reply: { error: string; name: string }) => Object.assign(new Error(reply.error), { name: reply.name });

const hostPath = fileURLToPath(new URL(import.meta.url.endsWith('.ts') ? './host.ts' : './host.js', import.meta.url));

const killGroup = (child: ChildProcess) => {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    child.kill('SIGKILL');
  }
};

export const createProcessPool = <I, O>(options: ProcessPoolOptions): ProcessPool<I, O> => {
  const modulePath = options.module instanceof URL ? fileURLToPath(options.module) : options.module;
  const execArgv = [...(options.execArgv ?? process.execArgv.filter((arg) => !arg.startsWith('--cpu-prof'))), ...(options.v8Flags ?? [])];
  const slots: Slot[] = [];
  const waiters: Array<() => void> = [];
  let nextId = 1;
  let closed = false;

  const wakeOne = () => waiters.shift()?.();

  const retire = (slot: Slot) => {
    if (slot.dead) return;
    slot.dead = true;
    const index = slots.indexOf(slot);
    if (index >= 0) slots.splice(index, 1);
    if (options.warm && !closed && slots.length < options.size) spawnSlot(false);
    // Room for a replacement: a waiting job may spawn one, or take the one just started.
    wakeOne();
  };

  const spawnSlot = (busy = true): Slot => {
    // detached: the child leads its own process group, so killing the group reaches grandchildren.
    const child = fork(hostPath, [modulePath], { detached: true, execArgv, serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const slot: Slot = { child, busy, dead: false };
    child.on('exit', () => retire(slot));
    // A failed fork or a send to a dying child: without a listener it would crash the worker.
    child.on('error', () => {
      retire(slot);
      killGroup(child);
    });
    slots.push(slot);
    return slot;
  };

  if (options.warm) for (let i = 0; i < options.size; i++) spawnSlot(false);

  /** A slot reserved for the caller (busy already), or the signal's reason once it aborts. */
  const acquire = async (signal: AbortSignal): Promise<Slot> => {
    for (;;) {
      signal.throwIfAborted();
      if (closed) throw new Error('process pool closed');
      const free = slots.find((s) => !s.busy && !s.dead && s.child.connected);
      if (free) {
        free.busy = true;
        return free;
      }
      if (slots.length < options.size) return spawnSlot();
      await new Promise<void>((resolve) => {
        const wake = () => {
          signal.removeEventListener('abort', wake);
          const index = waiters.indexOf(wake);
          if (index >= 0) waiters.splice(index, 1);
          resolve();
        };
        waiters.push(wake);
        signal.addEventListener('abort', wake, { once: true });
      });
    }
  };

  const release = (slot: Slot) => {
    slot.busy = false;
    if (!slot.dead) wakeOne();
  };

  return {
    async run(input, signal) {
      const slot = await acquire(signal);
      const id = nextId++;
      try {
        return await new Promise<O>((resolve, reject) => {
          const onMessage = (reply: Reply) => {
            if (reply.id !== id) return;
            cleanup();
            if (reply.ok) resolve(reply.value as O);
            else reject(childError(reply));
          };
          const onExit = (code: number | null, sig: string | null) => {
            cleanup();
            reject(new Error(`worker process exited (${sig ?? code}) during the job`));
          };
          const onAbort = () => {
            cleanup();
            // The child dies with whatever it started; it is never handed to another job.
            retire(slot);
            killGroup(slot.child);
            reject(signal.reason);
          };
          const cleanup = () => {
            slot.child.off('message', onMessage);
            slot.child.off('exit', onExit);
            signal.removeEventListener('abort', onAbort);
          };
          if (signal.aborted) return onAbort();
          slot.child.on('message', onMessage);
          slot.child.on('exit', onExit);
          signal.addEventListener('abort', onAbort, { once: true });
          slot.child.send({ id, input }, (error) => {
            if (!error) return;
            cleanup();
            retire(slot);
            killGroup(slot.child);
            reject(new Error(`could not hand the job to its worker process: ${error.message}`));
          });
        });
      } finally {
        release(slot);
      }
    },
    pids: () => slots.flatMap((s) => (s.child.pid === undefined ? [] : [s.child.pid])),
    async close() {
      closed = true;
      for (const waiter of waiters.splice(0)) waiter();
      await Promise.all(
        slots.map(
          (slot) =>
            new Promise<void>((resolve) => {
              if (slot.child.exitCode !== null || slot.child.signalCode !== null) return resolve();
              slot.child.once('exit', () => resolve());
              killGroup(slot.child);
            }),
        ),
      );
    },
  };
};
