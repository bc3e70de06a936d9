import type { NatsConnection } from '@nats-io/transport-node';

/** A mistake in how the command was called: usage is printed and the exit code is 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export interface CliContext {
  /** Connects to NATS once (lazily) or throws a clear error when it is unreachable. */
  nats(): Promise<NatsConnection>;
  out(line: string): void;
  err(line: string): void;
}

export interface Command {
  /** Words that select it, e.g. `['users', 'add']`. */
  path: readonly string[];
  usage: string;
  summary: string;
  /** Returns the exit code. */
  run(args: readonly string[], ctx: CliContext): Promise<number>;
}

export interface ParsedArgs {
  positional: string[];
  flags: Record<string, string>;
}

/** `a --name N --x=y b` → positional [a, b], flags {name: N, x: y}. Every flag takes a value. */
export const parseArgs = (args: readonly string[], allowed: readonly string[]): ParsedArgs => {
  const positional: string[] = [];
  const flags: Record<string, string> = {};
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? '';
    if (!arg.startsWith('--')) {
      positional.push(arg);
      continue;
    }
    const [rawName, inline] = arg.slice(2).split(/=(.*)/s, 2) as [string, string | undefined];
    if (!allowed.includes(rawName)) throw new UsageError(`unknown option --${rawName}`);
    const value = inline ?? args[++i];
    if (value === undefined || value === '') throw new UsageError(`--${rawName} needs a value`);
    flags[rawName] = value;
  }
  return { positional, flags };
};

const usageOf = (commands: readonly Command[]) =>
  ['usage: npm run cli -- <command>', '', 'commands:', ...commands.map((c) => `  ${c.usage.padEnd(34)} ${c.summary}`)].join('\n');

/**
 * Finds the command whose words match the longest prefix of `argv` and runs it. Unknown
 * commands and usage errors exit 2; failures (NATS unreachable, a service not answering) exit 1.
 */
export const dispatch = async (commands: readonly Command[], argv: readonly string[], ctx: CliContext): Promise<number> => {
  if (argv.length === 0 || argv[0] === 'help' || argv[0] === '--help' || argv[0] === '-h') {
    ctx.out(usageOf(commands));
    return argv.length === 0 ? 2 : 0;
  }
  const matches = commands
    .filter((c) => c.path.every((word, i) => argv[i] === word))
    .sort((a, b) => b.path.length - a.path.length);
  const command = matches[0];
  if (!command) {
    ctx.err(`unknown command: ${argv.join(' ')}\n\n${usageOf(commands)}`);
    return 2;
  }
  try {
    return await command.run(argv.slice(command.path.length), ctx);
  } catch (error) {
    if (error instanceof UsageError) {
      ctx.err(`${error.message}\nusage: npm run cli -- ${command.usage}`);
      return 2;
    }
    ctx.err(`error: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  }
};
