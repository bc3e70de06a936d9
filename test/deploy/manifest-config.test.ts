/**
 * Issue 12, acceptance 1: manifests that start. Both overlays are rendered (prod through a private
 * overlay that fills its Secrets, as an operator deploys it) and every service container's
 * environment — exactly what the manifest gives it: env and envFrom, ConfigMaps and Secrets
 * resolved from the rendered objects — must pass that service's own zod config schema. A missing
 * or invalid setting fails by name. The public surface holds no operator secrets and routes
 * neither the console nor any /metrics.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import type { z } from 'zod';
import { afterAll, describe, expect, test } from 'vitest';
import { ConfigError, parseEnv } from '#shared/config/env';
import { passwordVariable, SERVICES, type ServiceName } from '../../deploy/nats/permissions.ts';
import { authEnv } from '../../services/auth/src/config.ts';
import { consoleEnv } from '../../services/console/src/config.ts';
import { gatewayEnv } from '../../services/gateway/src/config.ts';
import { mailerEnv } from '../../services/mailer/src/config.ts';
import { ticketingEnv } from '../../services/ticketing/src/config.ts';
import { ingestEnv } from '../../services/webhook-ingest/src/config.ts';
import { decode, find, k8sDir, render, type Obj } from './kustomize.ts';

/** Each service's own settings schema, the one its main.ts hands the bootstrap. */
const SCHEMAS: Record<ServiceName, z.ZodType> = {
  gateway: gatewayEnv,
  'webhook-ingest': ingestEnv,
  auth: authEnv,
  ticketing: ticketingEnv,
  mailer: mailerEnv,
  console: consoleEnv,
};

/** The port variable of each HTTP service (the Service's `http` port). */
const HTTP_PORT: Partial<Record<ServiceName, string>> = { gateway: 'GATEWAY_PORT', 'webhook-ingest': 'WEBHOOK_PORT', console: 'CONSOLE_PORT' };

const dataOf = (obj: Obj): Record<string, string> =>
  obj.kind === 'Secret'
    ? { ...Object.fromEntries(Object.keys(obj.data ?? {}).map((k) => [k, decode(obj, k)])), ...(obj.stringData ?? {}) }
    : { ...(obj.data ?? {}) };

/**
 * The environment the kubelet gives `container`: envFrom sources in order, then env entries on top
 * (values, ConfigMap and Secret keys). A reference that does not resolve is listed, not skipped.
 */
const environmentOf = (objs: Obj[], container: Obj): { env: Record<string, string>; unresolved: string[] } => {
  const env: Record<string, string> = {};
  const unresolved: string[] = [];
  const source = (kind: string, name: string) => find(objs, kind, name);
  for (const from of container.envFrom ?? []) {
    const ref = from.configMapRef ? { kind: 'ConfigMap', ...from.configMapRef } : { kind: 'Secret', ...from.secretRef };
    const obj = source(ref.kind, ref.name);
    if (!obj) {
      if (!ref.optional) unresolved.push(`envFrom ${ref.kind}/${ref.name}`);
      continue;
    }
    for (const [key, value] of Object.entries(dataOf(obj))) env[`${from.prefix ?? ''}${key}`] = value;
  }
  for (const e of container.env ?? []) {
    if (e.value !== undefined) env[e.name] = String(e.value);
    else if (e.valueFrom?.configMapKeyRef || e.valueFrom?.secretKeyRef) {
      const ref = e.valueFrom.configMapKeyRef ? { kind: 'ConfigMap', ...e.valueFrom.configMapKeyRef } : { kind: 'Secret', ...e.valueFrom.secretKeyRef };
      const obj = source(ref.kind, ref.name);
      const value = obj ? dataOf(obj)[ref.key] : undefined;
      if (value === undefined) {
        if (!ref.optional) unresolved.push(`${e.name} ← ${ref.kind}/${ref.name} key ${ref.key}`);
      } else env[e.name] = value;
    } else if (e.valueFrom?.fieldRef) env[e.name] = `field:${e.valueFrom.fieldRef.fieldPath}`;
    else env[e.name] = '';
  }
  return { env, unresolved };
};

const serviceContainer = (objs: Obj[], name: ServiceName) => {
  const deployment = find(objs, 'Deployment', name);
  if (!deployment) throw new Error(`no Deployment ${name}`);
  const container = deployment.spec.template.spec.containers.find((c: Obj) => c.name === name);
  if (!container) throw new Error(`Deployment ${name} has no container ${name}`);
  return { deployment, container };
};

/** Why the service would refuse to start with this environment, by variable; [] when it starts. */
const refusals = (name: ServiceName, env: Record<string, string>): string[] => {
  try {
    parseEnv(SCHEMAS[name], env);
    return [];
  } catch (error) {
    if (error instanceof ConfigError) return error.issues.map((issue) => `${name}: ${issue}`);
    throw error;
  }
};

const readEnvFile = (path: string): Record<string, string> =>
  Object.fromEntries(
    readFileSync(path, 'utf8')
      .split('\n')
      .filter((line) => line.trim() && !line.startsWith('#'))
      .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
  );

/** prod as an operator deploys it: a private overlay on top of it replaces both Secrets with values. */
const privateProdOverlay = (dir: string) => {
  const overlays = join(k8sDir, 'overlays');
  const fill = (file: string) => {
    const keys = Object.keys(readEnvFile(join(overlays, 'prod', file)));
    const examples = readEnvFile(join(overlays, 'dev', file));
    // Every key prod names has a working example in dev, and the other way round.
    expect(keys.sort(), file).toEqual(Object.keys(examples).sort());
    writeFileSync(join(dir, file), keys.map((k) => `${k}=${examples[k]}`).join('\n'));
  };
  fill('secrets.example.env');
  fill('nats-passwords.example.env');
  writeFileSync(
    join(dir, 'kustomization.yaml'),
    [
      'bases:',
      `  - ${relative(dir, join(overlays, 'prod'))}`,
      'secretGenerator:',
      '  - name: handoff-secrets',
      '    behavior: replace',
      '    env: secrets.example.env',
      '  - name: nats-passwords',
      '    behavior: replace',
      '    env: nats-passwords.example.env',
      '',
    ].join('\n'),
  );
  return render(dir);
};

const dir = mkdtempSync(join(tmpdir(), 'handoff-live-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const overlays: Record<'dev' | 'prod', Obj[]> = {
  dev: render(join(k8sDir, 'overlays/dev')),
  prod: privateProdOverlay(dir),
};

for (const [overlay, objs] of Object.entries(overlays)) {
  describe(`overlay ${overlay}${overlay === 'prod' ? ' (Secrets filled by a private overlay)' : ''}`, () => {
    test('every service container gets every setting its own config schema requires, valid', () => {
      const problems: string[] = [];
      for (const name of SERVICES) {
        const { env, unresolved } = environmentOf(objs, serviceContainer(objs, name).container);
        problems.push(...unresolved.map((u) => `${name}: ${u}`), ...refusals(name, env));
      }
      expect(problems).toEqual([]);
    });

    test('the gateway holds no admin token and no NATS credential but its own; only the console holds ADMIN_TOKEN', () => {
      for (const name of SERVICES) {
        const { deployment, container } = serviceContainer(objs, name);
        const pod = deployment.spec.template.spec;
        const secretKeys = (container.env ?? []).filter((e: Obj) => e.valueFrom?.secretKeyRef).map((e: Obj) => `${e.valueFrom.secretKeyRef.name.replace(/-[a-z0-9]{10}$/, '')}/${e.valueFrom.secretKeyRef.key}`);
        expect(secretKeys, name).toContain(`nats-passwords/${passwordVariable(name)}`);
        expect(secretKeys.filter((k: string) => k.startsWith('nats-passwords/')), name).toEqual([`nats-passwords/${passwordVariable(name)}`]);
        expect((container.envFrom ?? []).filter((f: Obj) => f.secretRef), `${name} envFrom Secret`).toEqual([]);
        expect((pod.volumes ?? []).filter((v: Obj) => v.secret), `${name} Secret volumes`).toEqual([]);
        const { env } = environmentOf(objs, container);
        if (name !== 'console') expect(env.ADMIN_TOKEN, `${name} ADMIN_TOKEN`).toBeUndefined();
        expect(Object.keys(env).filter((k) => /NATS_ADMIN|NATS_PASSWORD_ADMIN/.test(k)), name).toEqual([]);
        expect(env.NATS_USER, name).toBe(name);
      }
      const gateway = environmentOf(objs, serviceContainer(objs, 'gateway').container).env;
      expect(Object.keys(gateway).filter((k) => /ADMIN|TOKEN/.test(k))).toEqual([]);
    });

    test('the Ingress routes neither the console nor any /metrics: Services expose only the HTTP port, never the health port', () => {
      const ingress = objs.find((o) => o.kind === 'Ingress')!;
      const backends = ingress.spec.rules.flatMap((r: Obj) => r.http.paths.map((p: Obj) => p.backend.service));
      expect(backends.map((b: Obj) => b.name)).not.toContain('console');
      for (const backend of backends) expect(backend.port, backend.name).toEqual({ name: 'http' });
      const consoleService = find(objs, 'Service', 'console')!;
      expect(consoleService.spec.type ?? 'ClusterIP').toBe('ClusterIP');
      for (const service of objs.filter((o) => o.kind === 'Service')) {
        for (const port of service.spec.ports) expect(port.targetPort, `Service/${service.metadata.name}`).not.toBe('health');
      }
      for (const [name, portVariable] of Object.entries(HTTP_PORT) as Array<[ServiceName, string]>) {
        const { container } = serviceContainer(objs, name);
        const { env } = environmentOf(objs, container);
        const ports = Object.fromEntries(container.ports.map((p: Obj) => [p.name, p.containerPort]));
        expect(Number(env[portVariable]), `${name} ${portVariable}`).toBe(ports.http);
        expect(Number(env.HEALTH_PORT), `${name} HEALTH_PORT (where /metrics is)`).toBe(ports.health);
        expect(ports.health, name).not.toBe(ports.http);
        const service = find(objs, 'Service', name)!;
        expect(service.spec.ports.map((p: Obj) => p.targetPort), `Service/${name}`).toEqual(['http']);
      }
    });

    test('the gateway trusts exactly one proxy, the Ingress controller, for client addresses', () => {
      const { env } = environmentOf(objs, serviceContainer(objs, 'gateway').container);
      expect(parseEnv(gatewayEnv, env).TRUST_PROXY).toBe(1);
    });
  });
}

describe('a missing setting fails by name', () => {
  test('ticketing without TICKET_SIGNING_KEY (the crash-loop of issue 12) is refused naming it', () => {
    const { container } = serviceContainer(overlays.dev, 'ticketing');
    const without = { ...container, env: container.env.filter((e: Obj) => e.name !== 'TICKET_SIGNING_KEY') };
    expect(refusals('ticketing', environmentOf(overlays.dev, without).env)).toEqual([
      'ticketing: TICKET_SIGNING_KEY: required: a secret of at least 32 characters (not set)',
    ]);
  });

  test('the public prod overlay, its Secrets unfilled, stops every service that needs one, naming the setting', () => {
    const objs = render(join(k8sDir, 'overlays/prod'));
    const problems = SERVICES.flatMap((name) => refusals(name, environmentOf(objs, serviceContainer(objs, name).container).env));
    expect(problems.map((p) => p.split(': ').slice(0, 2).join(': '))).toEqual(
      expect.arrayContaining(['webhook-ingest: WEBHOOK_SECRET', 'ticketing: TICKET_SIGNING_KEY', 'mailer: SMTP_URL', 'console: ADMIN_TOKEN']),
    );
    expect(problems).toHaveLength(4);
  });
});
