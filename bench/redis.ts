import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, connect } from 'node:net';

/** Redis for BullMQ: the machine's own at 127.0.0.1:6379 when it answers, else one we start. */
export interface RedisTarget {
  host: string;
  port: number;
  version: string;
  /** Set when this run started the server; its pid lets the memory tracker watch it. */
  pid?: number;
  stop(): Promise<void>;
}

/** One inline command over a raw socket: enough for PING and INFO without a client library. */
export const redisCommand = (host: string, port: number, command: string, timeoutMs = 1_000): Promise<string> =>
  new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    let data = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`redis ${host}:${port} did not answer ${command}`));
    }, timeoutMs);
    socket.on('connect', () => socket.write(`${command}\r\n`));
    socket.on('data', (chunk) => {
      data += chunk.toString();
      // A simple string (+PONG) ends at its CRLF; a bulk string ($len) once len bytes arrived.
      const bulk = /^\$(\d+)\r\n/.exec(data);
      if ((data.startsWith('+') || data.startsWith('-')) && data.endsWith('\r\n')) finish();
      else if (bulk && Buffer.byteLength(data) >= bulk[0].length + Number(bulk[1]) + 2) finish();
    });
    socket.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    const finish = () => {
      clearTimeout(timer);
      socket.end();
      resolve(data);
    };
  });

const versionOf = async (host: string, port: number) => /redis_version:([^\r\n]+)/.exec(await redisCommand(host, port, 'INFO server'))?.[1] ?? 'unknown';

/** A port nobody listens on right now (redis-server cannot pick one itself and report it). */
export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });

export const ensureRedis = async (): Promise<RedisTarget> => {
  const host = '127.0.0.1';
  try {
    if ((await redisCommand(host, 6379, 'PING')).startsWith('+PONG')) {
      return { host, port: 6379, version: await versionOf(host, 6379), stop: async () => undefined };
    }
  } catch {
    // Nothing on 6379: start our own below.
  }
  const port = await freePort();
  const child: ChildProcess = spawn('redis-server', ['--port', String(port), '--bind', host, '--save', '', '--appendonly', 'no'], {
    stdio: 'ignore',
  });
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      if ((await redisCommand(host, port, 'PING')).startsWith('+PONG')) break;
    } catch (error) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`redis-server did not start: ${String(error)}`, { cause: error });
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    host,
    port,
    version: await versionOf(host, port),
    pid: child.pid,
    stop: async () => {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    },
  };
};
