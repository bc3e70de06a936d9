import { startService, type RunningService } from '../services.ts';
import type { ChaosSmtpServer } from './chaos-smtp.ts';
import type { Incarnation } from './worker-logs.ts';

export interface Kill {
  worker: string;
  service: string;
  at: number;
  /** Mailer kills only: an SMTP session was open (or had just closed) when it landed. */
  duringSend: boolean;
}

/** One worker slot: a service with a fixed environment that is killed and started again. */
interface Slot {
  name: string;
  service: string;
  env: Record<string, string>;
  current: RunningService | undefined;
  life: Incarnation | undefined;
  restarting: Promise<void> | undefined;
}

export interface WorkerPool {
  start(): Promise<void>;
  /** SIGKILLs one running worker at random and starts it again in the background. */
  killRandom(): Promise<Kill | undefined>;
  /** Resolves once every worker is running again. */
  settle(): Promise<void>;
  kills(): Kill[];
  /** Every process each slot ran, killed or not, with its output: the logs the report reads. */
  incarnations(): Incarnation[];
  restartFailures(): string[];
  stopAll(): Promise<void>;
}

/**
 * The workers the chaos run kills: each slot restarts with the same environment, as a supervisor
 * (systemd, Kubernetes) would. A restart that fails (e.g. it began while nats-server was down and
 * timed out) is retried until it works.
 */
export const createWorkerPool = (
  specs: Array<{ name: string; service: string; env: Record<string, string> }>,
  smtp: ChaosSmtpServer,
  random: () => number = Math.random,
): WorkerPool => {
  const slots: Slot[] = specs.map((s) => ({ ...s, current: undefined, life: undefined, restarting: undefined }));
  const kills: Kill[] = [];
  const lives: Incarnation[] = [];
  const failures: string[] = [];

  const launch = async (slot: Slot) => {
    for (let tries = 1; ; tries++) {
      try {
        const started = Date.now();
        const running = await startService(slot.service, { ...slot.env, OTEL_SERVICE_NAME: slot.name }, { timeoutMs: 90_000 });
        slot.current = running;
        slot.life = { worker: slot.name, service: slot.service, startedAt: started, killedAt: undefined, output: () => running.output() };
        lives.push(slot.life);
        return;
      } catch (error) {
        failures.push(`${slot.name} (try ${tries}): ${error instanceof Error ? error.message.slice(0, 300) : String(error)}`);
        if (tries >= 5) throw error;
      }
    }
  };

  return {
    async start() {
      await Promise.all(slots.map(launch));
    },
    async killRandom() {
      const running = slots.filter((s) => s.current && !s.restarting);
      const slot = running[Math.floor(random() * running.length)];
      if (!slot?.current) return undefined;
      const at = Date.now();
      const duringSend = slot.service === 'mailer' && smtp.sendInProgressAt(at);
      const victim = slot.current;
      slot.current = undefined;
      if (slot.life) slot.life.killedAt = at;
      await victim.kill('SIGKILL');
      const kill: Kill = { worker: slot.name, service: slot.service, at, duringSend };
      kills.push(kill);
      slot.restarting = launch(slot).finally(() => (slot.restarting = undefined));
      return kill;
    },
    async settle() {
      await Promise.all(slots.map((s) => s.restarting));
    },
    kills: () => [...kills],
    incarnations: () => [...lives],
    restartFailures: () => [...failures],
    async stopAll() {
      await Promise.all(slots.map((s) => s.restarting?.catch(() => undefined)));
      await Promise.all(slots.map((s) => s.current?.kill('SIGKILL')));
    },
  };
};
