import { fileURLToPath } from 'node:url';
import { startProcess, type RunningProcess } from './process.ts';

const LAUNCH = fileURLToPath(new URL('../services/launch.ts', import.meta.url));
/** Ticketing with a renderer that hangs or fails on purpose (see fixtures/faulty-render.ts). */
export const FAULTY_TICKETING = fileURLToPath(new URL('./fixtures/faulty-ticketing.ts', import.meta.url));

export interface RunningService extends RunningProcess {
  name: string;
  /** The fields of the service's "service ready" log line (e.g. `port`, `healthPort`). */
  ready: Record<string, unknown>;
  /** Its HTTP port when the ready line names one (`port`). */
  port: number | undefined;
  /** SIGTERM and wait for a clean exit (drain). */
  stop(): Promise<number | string>;
}

/**
 * Starts `services/<name>` as its own process through services/launch.ts, exactly as
 * `npm run service -- <name>` does, and resolves once it logged "service ready".
 * `env` is layered over the test process's environment.
 */
export const startService = async (
  name: string,
  env: Record<string, string | undefined>,
  options: { timeoutMs?: number; echo?: boolean; script?: string } = {},
): Promise<RunningService> => {
  const proc = startProcess(options.script ?? LAUNCH, { args: options.script ? [] : [name], env: { LOG_LEVEL: 'info', HEALTH_PORT: '0', ...env }, name, echo: options.echo });
  try {
    await proc.waitForOutput(/"msg":"service ready"/, options.timeoutMs ?? 45_000);
  } catch (error) {
    await proc.kill('SIGKILL');
    throw error;
  }
  const line = proc
    .output()
    .split('\n')
    .find((l) => l.includes('"msg":"service ready"'));
  const ready = line ? (JSON.parse(line) as Record<string, unknown>) : {};
  return {
    ...proc,
    name,
    ready,
    port: typeof ready.port === 'number' ? ready.port : undefined,
    stop: () => proc.kill('SIGTERM'),
  };
};
