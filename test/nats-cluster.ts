/**
 * A 3-node JetStream cluster on loopback, configured like the Kubernetes StatefulSet: the
 * committed deploy/nats/cluster.conf (accounts, per-service users, cluster block) with only the
 * ports, routes and store made local. Each node has its own store, so a SIGKILLed node restarts
 * with its data, as a pod with its PersistentVolume does.
 */
import { jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ADMIN_USER } from '../deploy/nats/permissions.ts';
import { defineVariables, loadConfig, passwordOf, randomPasswords, type Passwords } from './deploy/nats-config.ts';
import { startNatsServer, type NatsServer } from './nats-server.ts';
import { freePort } from './process.ts';
import { waitFor } from './wait.ts';

export interface ClusterNode {
  name: string;
  server: NatsServer;
  alive: boolean;
}

export interface NatsCluster {
  nodes: ClusterNode[];
  /** Every node's client URL, comma-separated: what NATS_URL holds in production. */
  url: string;
  passwords: Passwords;
  /** A connection as the admin user (all of the application account). */
  connectAdmin(): Promise<NatsConnection>;
  /** The node that leads a stream's Raft group now. */
  streamLeader(stream: string): Promise<ClusterNode>;
  kill(node: ClusterNode): Promise<void>;
  restart(node: ClusterNode): Promise<void>;
  /** Waits until every stream has a leader and all its replicas are current. */
  waitHealthy(streams: string[], timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Routes need every node's cluster port before any node starts, so ports are chosen by binding
 * port 0 and releasing it (freePort). A port could in theory be taken in between; the harness then
 * fails loudly when nats-server cannot listen, never silently.
 */
export const startNatsCluster = async (options: { size?: number } = {}): Promise<NatsCluster> => {
  const size = options.size ?? 3;
  const root = mkdtempSync(join(tmpdir(), 'handoff-cluster-'));
  const passwords = randomPasswords();
  const clientPorts: number[] = [];
  const clusterPorts: number[] = [];
  while (clientPorts.length < size * 2) {
    const port = await freePort();
    if (!clientPorts.includes(port)) clientPorts.push(port);
  }
  clusterPorts.push(...clientPorts.splice(size));
  const clusterName = `handoff_${Math.random().toString(36).slice(2, 8)}`;
  const routes = clusterPorts.map((p) => `    nats://127.0.0.1:${p}`).join('\n');

  const configFor = (index: number, name: string) =>
    `${defineVariables({ ...passwords, POD_NAME: name })}\n${loadConfig('cluster.conf', [
      [/^http_port: .*$/m, 'http_port: -1'],
      // The store comes from startNatsServer's -sd (one directory per node, kept across restarts).
      [/^jetstream: \{[^}]*\}/m, 'jetstream: enabled'],
      [/^ {2}name: handoff$/m, `  name: ${clusterName}`],
      [/^ {2}port: 6222$/m, `  listen: 127.0.0.1:${clusterPorts[index]}`],
      [/^ {2}routes: \[[^\]]*\]/m, `  routes: [\n${routes}\n  ]`],
      // Lame duck mode is for pod rollouts; a test's stop() should not wait for it.
      [/^lame_duck_duration: .*$/m, ''],
      [/^lame_duck_grace_period: .*$/m, ''],
    ])}`;

  const nodes: ClusterNode[] = await Promise.all(
    Array.from({ length: size }, async (_, index) => {
      const name = `n${index}`;
      const server = await startNatsServer({
        config: configFor(index, name),
        port: clientPorts[index],
        storeDir: join(root, name),
      });
      return { name, server, alive: true };
    }),
  );
  const url = nodes.map((n) => n.server.url).join(',');
  const connectAdmin = () =>
    connect({
      servers: url.split(','),
      user: ADMIN_USER,
      pass: passwordOf(passwords, ADMIN_USER),
      maxReconnectAttempts: -1,
      reconnectTimeWait: 200,
    });

  const admin = await connectAdmin();
  // JetStream answers only once the meta group has elected a leader.
  await waitFor(
    async () => {
      const jsm = await jetstreamManager(admin);
      const info = await jsm.getAccountInfo();
      return info !== undefined;
    },
    { timeoutMs: 30_000, intervalMs: 250, what: 'the JetStream meta leader' },
  );

  const cluster: NatsCluster = {
    nodes,
    url,
    passwords,
    connectAdmin,
    async streamLeader(stream) {
      const leader = await waitFor(
        async () => (await (await jetstreamManager(admin, { checkAPI: false })).streams.info(stream)).cluster?.leader,
        { timeoutMs: 30_000, intervalMs: 200, what: `a leader for ${stream}` },
      );
      const node = nodes.find((n) => n.name === leader);
      if (!node) throw new Error(`leader ${leader} is not a node of this cluster`);
      return node;
    },
    async kill(node) {
      node.alive = false;
      await node.server.kill();
    },
    async restart(node) {
      await node.server.restart();
      node.alive = true;
    },
    async waitHealthy(streams, timeoutMs = 60_000) {
      const jsm = await jetstreamManager(admin, { checkAPI: false });
      for (const stream of streams) {
        await waitFor(
          async () => {
            const info = await jsm.streams.info(stream);
            const replicas = info.cluster?.replicas ?? [];
            return info.cluster?.leader !== undefined && replicas.length === size - 1 && replicas.every((r) => r.current && !r.offline);
          },
          { timeoutMs, intervalMs: 250, what: `${stream} to have a leader and current replicas` },
        );
      }
    },
    async stop() {
      await admin.close().catch(() => undefined);
      await Promise.all(nodes.map((n) => n.server.stop()));
      rmSync(root, { recursive: true, force: true });
    },
  };
  return cluster;
};
