/**
 * The operator CLI: `npm run cli -- <command>`. Commands live in ./commands, one per file, and are
 * listed here; settings come from the environment like every service's.
 */
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { z } from 'zod';
import { commonEnv, ConfigError, parseEnv } from '#shared/config/env';
import { ordersShow } from './commands/orders.ts';
import { usersAdd } from './commands/users-add.ts';
import { queues, queuesPause, queuesResume } from './commands/queues.ts';
import { jobsShow } from './commands/jobs.ts';
import { dlqList, dlqPurge, dlqReplay, dlqShow } from './commands/dlq.ts';
import { dispatch, type Command } from './dispatch.ts';

const cliEnv = z.object({
  NATS_URL: commonEnv.NATS_URL,
  NATS_USER: commonEnv.NATS_USER,
  NATS_PASSWORD: commonEnv.NATS_PASSWORD,
  /** Replicas of the pause bucket when the CLI creates it before the console has (3 on a cluster). */
  JS_REPLICAS: commonEnv.JS_REPLICAS,
  /** How long the CLI tries to reach NATS before giving up (default 3 s). */
  CLI_CONNECT_TIMEOUT_MS: z.coerce.number().int().min(100).default(3_000),
});

let config: z.infer<typeof cliEnv>;
try {
  config = parseEnv(cliEnv, process.env);
} catch (error) {
  process.stderr.write(`${error instanceof ConfigError ? error.message : String(error)}\n`);
  process.exit(2);
}

const COMMANDS: readonly Command[] = [
  usersAdd,
  ordersShow,
  queues,
  queuesPause(() => config.JS_REPLICAS),
  queuesResume(() => config.JS_REPLICAS),
  jobsShow,
  dlqList,
  dlqShow,
  dlqReplay,
  dlqPurge,
];

let connection: NatsConnection | undefined;
const code = await dispatch(COMMANDS, process.argv.slice(2), {
  async nats() {
    if (connection) return connection;
    try {
      // Unlike a service, a CLI must not wait forever for a server that is down.
      connection = await connect({
        servers: config.NATS_URL.split(',').map((s) => s.trim()),
        user: config.NATS_USER,
        pass: config.NATS_PASSWORD,
        name: 'handoff-cli',
        timeout: config.CLI_CONNECT_TIMEOUT_MS,
        reconnect: false,
      });
      return connection;
    } catch (error) {
      throw new Error(`cannot reach NATS at ${config.NATS_URL}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
  },
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
});
await connection?.close().catch(() => undefined);
process.exitCode = code;
