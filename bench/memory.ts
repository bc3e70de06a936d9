import { readdirSync, readFileSync } from 'node:fs';

/**
 * Peak RSS of service processes, read from /proc (Linux). VmHWM is the kernel's own high-water
 * mark of a process's resident set, so a sample taken any time before exit sees the true peak even
 * between samples; only the summed RSS of a process tree (a service plus its render pool) needs
 * periodic sampling, because a tree has no kernel counter.
 */

const KB_PER_MB = 1024;

const statusField = (pid: number, field: 'VmHWM' | 'VmRSS'): number | undefined => {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
    return match ? Number(match[1]) / KB_PER_MB : undefined;
  } catch {
    return undefined;
  }
};

export const peakRssMb = (pid: number): number | undefined => statusField(pid, 'VmHWM');

/** Every descendant of `pid`, found through the parent pid in /proc/<n>/stat. */
export const descendants = (pid: number): number[] => {
  const parentOf = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // The command name sits in parentheses and may contain spaces; fields after it are fixed.
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      parentOf.set(Number(entry), Number(rest[1]));
    } catch {
      // The process exited while we listed it.
    }
  }
  const out: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const current = queue.shift() as number;
    for (const [child, parent] of parentOf) {
      if (parent === current) {
        out.push(child);
        queue.push(child);
      }
    }
  }
  return out;
};

/** Clock ticks per second of /proc/<pid>/stat's utime and stime (USER_HZ: 100 on Linux). */
const TICKS_PER_SEC = 100;

/** CPU seconds (user + system) a live process has used so far, or 0 once it is gone. */
export const cpuSeconds = (pid: number): number => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields 14 and 15 of stat (utime, stime) are the 12th and 13th after the command name.
    return (Number(rest[11]) + Number(rest[12])) / TICKS_PER_SEC;
  } catch {
    return 0;
  }
};

/** CPU seconds of a process and its live descendants (a service with its render pool). */
export const treeCpuSeconds = (pid: number): number => descendants(pid).reduce((sum, child) => sum + cpuSeconds(child), cpuSeconds(pid));

export interface WatchedProcess {
  comparison: string;
  process: string;
  pid: number;
  worker: boolean;
  /** Also track the summed RSS of its descendants (a service's render pool). */
  tree?: boolean;
}

interface Peak {
  comparison: string;
  process: string;
  worker: boolean;
  peakRssMb: number;
  treePeakRssMb?: number;
  /** The highest VmHWM of any one child (a render process), when it has children. */
  childPeakRssMb?: number;
}

/**
 * Tracks peaks across the whole run: `watch()` a process while it lives, `sample()` just before
 * stopping it (VmHWM vanishes with the process). One entry per (comparison, process name), keeping
 * the highest value over repeated runs.
 */
export const createMemoryTracker = (intervalMs = 250) => {
  const peaks = new Map<string, Peak>();
  const watched = new Set<WatchedProcess>();
  const keyOf = (p: Pick<WatchedProcess, 'comparison' | 'process'>) => `${p.comparison}\u0000${p.process}`;

  const sampleOne = (p: WatchedProcess) => {
    const own = peakRssMb(p.pid);
    if (own === undefined) return;
    const children = p.tree ? descendants(p.pid) : [];
    const tree = children.length > 0 ? children.reduce((sum, c) => sum + (statusField(c, 'VmRSS') ?? 0), statusField(p.pid, 'VmRSS') ?? 0) : undefined;
    const child = children.length > 0 ? Math.max(...children.map((c) => peakRssMb(c) ?? 0)) : undefined;
    const key = keyOf(p);
    const previous = peaks.get(key);
    const treePeak = tree === undefined ? previous?.treePeakRssMb : Math.max(tree, previous?.treePeakRssMb ?? 0);
    const childPeak = child === undefined ? previous?.childPeakRssMb : Math.max(child, previous?.childPeakRssMb ?? 0);
    peaks.set(key, {
      comparison: p.comparison,
      process: p.process,
      worker: p.worker,
      peakRssMb: Math.max(own, previous?.peakRssMb ?? 0),
      ...(treePeak === undefined ? {} : { treePeakRssMb: treePeak }),
      ...(childPeak === undefined ? {} : { childPeakRssMb: childPeak }),
    });
  };

  // Walking /proc costs a few ms, so the tree sum is sampled on a timer only for watched processes.
  const timer = setInterval(() => {
    for (const p of watched) sampleOne(p);
  }, intervalMs);
  timer.unref();

  return {
    watch(p: WatchedProcess): () => void {
      watched.add(p);
      sampleOne(p);
      return () => {
        sampleOne(p);
        watched.delete(p);
      };
    },
    /** Records a figure measured elsewhere (e.g. a child's own `process.resourceUsage().maxRSS`). */
    record(p: Omit<Peak, 'treePeakRssMb' | 'childPeakRssMb'>) {
      const key = keyOf(p);
      const previous = peaks.get(key);
      peaks.set(key, { ...previous, ...p, peakRssMb: Math.max(p.peakRssMb, previous?.peakRssMb ?? 0) });
    },
    peaks: (): Peak[] =>
      [...peaks.values()].map((p) => ({
        ...p,
        peakRssMb: round1(p.peakRssMb),
        ...(p.treePeakRssMb === undefined ? {} : { treePeakRssMb: round1(p.treePeakRssMb) }),
        ...(p.childPeakRssMb === undefined ? {} : { childPeakRssMb: round1(p.childPeakRssMb) }),
      })),
    stop: () => clearInterval(timer),
  };
};

export type MemoryTracker = ReturnType<typeof createMemoryTracker>;

const round1 = (n: number) => Math.round(n * 10) / 10;
