/**
 * Acceptance 1: `kubectl kustomize` renders both overlays; every object validates against its
 * schema; Deployments are probed, bounded, non-root and pinned; every Secret and ConfigMap
 * reference resolves inside the overlay; names agree with the contracts and deploy/nats.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { currentNatsServerBin, natsServerVersion } from '../../deploy/nats/nats-server-binary.ts';
import { APP_ACCOUNT, PASSWORD_VARIABLES, passwordVariable, SERVICES } from '../../deploy/nats/permissions.ts';
import { AUTH_JOBS } from '#shared/contracts/auth';
import { MAIL_JOBS } from '#shared/contracts/mail';
import { generateTicketJob, ticketsReadyMailJob } from '#shared/contracts/tickets';
import { decode, envOf, find, k8sDir, render, type Obj } from './kustomize.ts';

const modelFor = async (apiVersion: string, kind: string) => {
  const path = apiVersion.startsWith('keda.sh/')
    ? `@kubernetes-models/keda/${apiVersion}/${kind}`
    : `kubernetes-models/${apiVersion}/${kind}`;
  const mod = (await import(path)) as Record<string, new (data: unknown) => { validate(): void }>;
  const Model = mod[kind] ?? mod.default;
  if (!Model) throw new Error(`no model for ${apiVersion} ${kind}`);
  return Model;
};

const workloads = (objs: Obj[]) => objs.filter((o) => o.kind === 'Deployment' || o.kind === 'StatefulSet');
const matches = (selector: Record<string, string>, labels: Record<string, string> = {}) =>
  Object.entries(selector).every(([k, v]) => labels[k] === v);

/** Every Secret/ConfigMap a pod template points at, with the key when it names one. */
const references = (spec: Obj): Array<{ kind: 'Secret' | 'ConfigMap'; name: string; key?: string; where: string }> => {
  const out: Array<{ kind: 'Secret' | 'ConfigMap'; name: string; key?: string; where: string }> = [];
  for (const c of [...(spec.initContainers ?? []), ...(spec.containers ?? [])]) {
    for (const e of c.env ?? []) {
      const cm = e.valueFrom?.configMapKeyRef;
      const sk = e.valueFrom?.secretKeyRef;
      if (cm) out.push({ kind: 'ConfigMap', name: cm.name, key: cm.key, where: `${c.name} env ${e.name}` });
      if (sk) out.push({ kind: 'Secret', name: sk.name, key: sk.key, where: `${c.name} env ${e.name}` });
    }
    for (const from of c.envFrom ?? []) {
      if (from.configMapRef) out.push({ kind: 'ConfigMap', name: from.configMapRef.name, where: `${c.name} envFrom` });
      if (from.secretRef) out.push({ kind: 'Secret', name: from.secretRef.name, where: `${c.name} envFrom` });
    }
  }
  for (const v of spec.volumes ?? []) {
    if (v.configMap) out.push({ kind: 'ConfigMap', name: v.configMap.name, where: `volume ${v.name}` });
    if (v.secret) out.push({ kind: 'Secret', name: v.secret.secretName, where: `volume ${v.name}` });
  }
  return out;
};

for (const overlay of ['dev', 'prod'] as const) {
  describe(`overlay ${overlay}`, () => {
    const objs = render(join(k8sDir, 'overlays', overlay));
    const config = objs.find((o) => o.kind === 'ConfigMap' && o.metadata.name.startsWith('handoff-config'))!;

    test('renders every piece: services, NATS, Jaeger, autoscaling, policies, ingress', () => {
      const kinds = new Set(objs.map((o) => o.kind));
      for (const kind of ['Deployment', 'StatefulSet', 'Service', 'Ingress', 'PodDisruptionBudget', 'NetworkPolicy', 'ScaledObject', 'ConfigMap', 'Secret']) {
        expect(kinds, kind).toContain(kind);
      }
      for (const name of [...SERVICES, 'jaeger']) expect(find(objs, 'Deployment', name), name).toBeDefined();
      expect(find(objs, 'StatefulSet', 'nats')).toBeDefined();
      expect(objs.every((o) => o.kind === 'Namespace' || o.metadata.namespace === 'handoff')).toBe(true);
    });

    test('every object validates against its schema (kubernetes-models, @kubernetes-models/keda)', async () => {
      for (const o of objs) {
        const Model = await modelFor(o.apiVersion, o.kind);
        expect(() => new Model(o).validate(), `${o.kind}/${o.metadata.name}`).not.toThrow();
      }
    });

    test('every workload has both probes, requests and limits, a non-root read-only context and a pinned image', () => {
      for (const w of workloads(objs)) {
        const pod = w.spec.template.spec;
        const id = `${w.kind}/${w.metadata.name}`;
        expect(pod.securityContext?.runAsNonRoot, id).toBe(true);
        expect(pod.securityContext?.runAsUser, id).toBeGreaterThan(0);
        for (const c of pod.containers) {
          const cid = `${id}/${c.name}`;
          expect(c.readinessProbe, `${cid} readiness`).toBeDefined();
          expect(c.livenessProbe, `${cid} liveness`).toBeDefined();
          for (const bound of ['requests', 'limits']) {
            expect(c.resources?.[bound]?.cpu, `${cid} ${bound}.cpu`).toBeDefined();
            expect(c.resources?.[bound]?.memory, `${cid} ${bound}.memory`).toBeDefined();
          }
          expect(c.securityContext?.readOnlyRootFilesystem, cid).toBe(true);
          expect(c.securityContext?.allowPrivilegeEscalation, cid).toBe(false);
          expect(c.securityContext?.capabilities?.drop, cid).toContain('ALL');
          expect(c.image, cid).toMatch(/^[^@]+:[\w][\w.-]*$|@sha256:/);
          expect(c.image, cid).not.toMatch(/:latest$/);
        }
      }
    });

    test('each service runs the one image with its name as the command, probed on /readyz and /healthz', () => {
      const images = new Set<string>();
      for (const name of SERVICES) {
        const c = find(objs, 'Deployment', name)!.spec.template.spec.containers[0];
        images.add(c.image);
        expect(c.args).toEqual([name]);
        expect(c.readinessProbe.httpGet.path).toBe('/readyz');
        expect(c.livenessProbe.httpGet.path).toBe('/healthz');
        expect(envOf(c, 'OTEL_SERVICE_NAME')?.value).toBe(name);
      }
      expect(images.size).toBe(1);
      expect(config.data.OTEL_EXPORTER_OTLP_ENDPOINT).toMatch(/^http:\/\/jaeger:4318$/);
    });

    test('graceful termination outlasts the job runner grace period', () => {
      const graceMs = Number(config.data.SHUTDOWN_GRACE_MS);
      expect(graceMs).toBeGreaterThan(0);
      for (const name of SERVICES) {
        const pod = find(objs, 'Deployment', name)!.spec.template.spec;
        const preStopSeconds = Number(pod.containers[0].lifecycle?.preStop?.exec?.command?.[1] ?? 0);
        expect(pod.terminationGracePeriodSeconds * 1000, name).toBeGreaterThan(graceMs + preStopSeconds * 1000);
      }
    });

    test('every Secret and ConfigMap reference resolves inside the overlay, keys included', () => {
      const pods = [...workloads(objs).map((w) => ({ id: `${w.kind}/${w.metadata.name}`, spec: w.spec.template.spec }))];
      expect(pods.length).toBeGreaterThan(0);
      let count = 0;
      for (const pod of pods) {
        for (const ref of references(pod.spec)) {
          count++;
          const target = find(objs, ref.kind, ref.name);
          expect(target, `${pod.id} ${ref.where} → ${ref.kind}/${ref.name}`).toBeDefined();
          if (ref.key) expect(Object.keys(target!.data ?? {}), `${pod.id} ${ref.where} key ${ref.key}`).toContain(ref.key);
        }
      }
      expect(count).toBeGreaterThan(SERVICES.length * 2);
    });

    test('every workload has a PodDisruptionBudget and every Service and Ingress backend has pods', () => {
      const pdbs = objs.filter((o) => o.kind === 'PodDisruptionBudget');
      for (const w of workloads(objs)) {
        if (w.metadata.name === 'jaeger' || w.metadata.name === 'mailpit') continue; // single-instance tools
        const labels = w.spec.template.metadata.labels;
        expect(pdbs.some((p) => matches(p.spec.selector.matchLabels, labels)), `PDB for ${w.metadata.name}`).toBe(true);
      }
      for (const svc of objs.filter((o) => o.kind === 'Service')) {
        expect(workloads(objs).some((w) => matches(svc.spec.selector, w.spec.template.metadata.labels)), `pods for Service/${svc.metadata.name}`).toBe(true);
      }
      const ingress = objs.find((o) => o.kind === 'Ingress')!;
      const backends = ingress.spec.rules.flatMap((r: Obj) => r.http.paths.map((p: Obj) => p.backend.service.name));
      expect(new Set(backends)).toEqual(new Set(['gateway', 'webhook-ingest']));
      for (const name of backends) expect(find(objs, 'Service', name)).toBeDefined();
    });

    test('services log in to NATS as their own user; the broker gets every password and checks it', () => {
      for (const name of SERVICES) {
        const c = find(objs, 'Deployment', name)!.spec.template.spec.containers[0];
        expect(envOf(c, 'NATS_USER')?.value).toBe(name);
        expect(envOf(c, 'NATS_PASSWORD')?.valueFrom?.secretKeyRef?.key).toBe(passwordVariable(name));
      }
      const nats = find(objs, 'StatefulSet', 'nats')!.spec.template.spec.containers[0];
      const secretName = nats.envFrom.find((f: Obj) => f.secretRef).secretRef.name;
      const secret = find(objs, 'Secret', secretName)!;
      expect(Object.keys(secret.data).sort()).toEqual([...PASSWORD_VARIABLES].sort());
      const guard = nats.command.join(' ');
      for (const v of PASSWORD_VARIABLES) expect(guard).toContain(v);
      const volume = find(objs, 'StatefulSet', 'nats')!.spec.template.spec.volumes.find((v: Obj) => v.configMap);
      expect(Object.keys(find(objs, 'ConfigMap', volume.configMap.name)!.data).sort()).toEqual(['accounts.conf', 'cluster.conf', 'server.conf']);
    });

    test('NATS runs the official image of the nats-server CI tests, enters lame duck mode before it stops, and serves monitoring on 8222', () => {
      const sts = find(objs, 'StatefulSet', 'nats')!;
      const nats = sts.spec.template.spec.containers[0];
      // The version current-server.sh fetches is the one the suite ran on: bump the tag with it.
      expect(nats.image).toBe(`nats:${natsServerVersion(currentNatsServerBin())}-alpine`);
      expect(nats.lifecycle.preStop.exec.command).toEqual(['nats-server', '--signal', 'ldm=1']);
      expect(nats.ports.find((p: Obj) => p.name === 'monitor').containerPort).toBe(8222);
      const volume = sts.spec.template.spec.volumes.find((v: Obj) => v.configMap);
      const file = envOf(nats, 'NATS_CONFIG').value.split('/').at(-1);
      const conf: string = find(objs, 'ConfigMap', volume.configMap.name)!.data[file];
      expect(conf).toMatch(/^http_port: 8222$/m);
      expect(conf).toMatch(/^\s*max_file_store: \S+$/m);
      expect(conf).toMatch(/^\s*max_memory_store: \S+$/m);
      const seconds = (name: string) => Number(new RegExp(`^${name}: "(\\d+)s"$`, 'm').exec(conf)?.[1]);
      expect(seconds('lame_duck_duration')).toBeGreaterThanOrEqual(30);
      // Lame duck mode runs its course inside the pod's grace period.
      expect(seconds('lame_duck_duration') + seconds('lame_duck_grace_period')).toBeLessThan(sts.spec.template.spec.terminationGracePeriodSeconds);
    });

    test('KEDA scales the three workers on the lag of their contract consumers', () => {
      const expected: Record<string, Array<[string, string]>> = {
        auth: [[AUTH_JOBS.magicLink.stream, AUTH_JOBS.magicLink.consumer]],
        ticketing: [[generateTicketJob.stream, generateTicketJob.consumer]],
        mailer: [
          [MAIL_JOBS.send.stream, MAIL_JOBS.send.consumer],
          [ticketsReadyMailJob.stream, ticketsReadyMailJob.consumer],
        ],
      };
      const scaled = objs.filter((o) => o.kind === 'ScaledObject');
      expect(scaled.map((s) => s.spec.scaleTargetRef.name).sort()).toEqual(Object.keys(expected).sort());
      for (const s of scaled) {
        expect(find(objs, 'Deployment', s.spec.scaleTargetRef.name)).toBeDefined();
        const triggers = s.spec.triggers.map((t: Obj) => {
          expect(t.type).toBe('nats-jetstream');
          expect(t.metadata.account).toBe(APP_ACCOUNT);
          expect(t.metadata.natsServerMonitoringEndpoint).toMatch(/^nats-headless\.handoff\.svc\.cluster\.local:8222$/);
          expect(Number(t.metadata.lagThreshold)).toBeGreaterThan(0);
          return [t.metadata.stream, t.metadata.consumer];
        });
        expect(triggers).toEqual(expected[s.spec.scaleTargetRef.name]);
      }
    });

    test('only the gateway and webhook-ingest take traffic from outside the namespace', () => {
      const policies = objs.filter((o) => o.kind === 'NetworkPolicy');
      const denyAll = policies.find((p) => p.metadata.name === 'default-deny');
      expect(Object.keys(denyAll?.spec.podSelector.matchLabels ?? {}).filter((k) => k !== 'app.kubernetes.io/part-of')).toEqual([]);
      expect(denyAll?.spec.policyTypes).toEqual(['Ingress', 'Egress']);
      expect(denyAll?.spec.ingress ?? []).toEqual([]);
      const pods = workloads(objs);
      const reachableFromIngressController = new Set<string>();
      for (const p of policies) {
        const fromController = (p.spec.ingress ?? []).some((rule: Obj) =>
          (rule.from ?? []).some((peer: Obj) => peer.namespaceSelector?.matchLabels?.['kubernetes.io/metadata.name'] === 'ingress-nginx'),
        );
        if (!fromController) continue;
        for (const w of pods) if (matches(p.spec.podSelector.matchLabels ?? {}, w.spec.template.metadata.labels)) reachableFromIngressController.add(w.metadata.name);
      }
      expect([...reachableFromIngressController].sort()).toEqual(['gateway', 'webhook-ingest']);
      const smtp = policies.find((p) => p.spec.podSelector.matchLabels?.['app.kubernetes.io/name'] === 'mailer');
      expect(smtp?.spec.egress?.[0]?.ports?.map((port: Obj) => port.port)).toContain(587);
    });
  });
}

describe('overlay differences', () => {
  const dev = render(join(k8sDir, 'overlays/dev'));
  const prod = render(join(k8sDir, 'overlays/prod'));
  const configOf = (objs: Obj[]) => objs.find((o) => o.kind === 'ConfigMap' && o.metadata.name.startsWith('handoff-config'))!.data;

  test('prod runs a 3-node NATS cluster with 3 stream replicas from config; dev one node at 1', () => {
    expect(find(prod, 'StatefulSet', 'nats')!.spec.replicas).toBe(3);
    expect(configOf(prod).JS_REPLICAS).toBe('3');
    expect(configOf(prod).NATS_URL.split(',')).toHaveLength(3);
    const prodNats = find(prod, 'StatefulSet', 'nats')!.spec;
    expect(envOf(prodNats.template.spec.containers[0], 'NATS_CONFIG').value).toBe('/etc/nats/cluster.conf');
    expect(prodNats.volumeClaimTemplates[0].spec.resources.requests.storage).toBeDefined();
    expect(find(dev, 'StatefulSet', 'nats')!.spec.replicas).toBe(1);
    expect(configOf(dev).JS_REPLICAS).toBe('1');
    expect(envOf(find(dev, 'StatefulSet', 'nats')!.spec.template.spec.containers[0], 'NATS_CONFIG').value).toBe('/etc/nats/server.conf');
  });

  test('dev example NATS passwords pass the start-up rule of the broker, so the dev overlay boots', () => {
    const secret = dev.find((o) => o.kind === 'Secret' && o.metadata.name.startsWith('nats-passwords'))!;
    for (const v of PASSWORD_VARIABLES) expect(decode(secret, v), v).toMatch(/^[A-Za-z][A-Za-z0-9]{15,}$/);
  });

  test('prod commits no secret values', () => {
    for (const secret of prod.filter((o) => o.kind === 'Secret')) {
      for (const key of Object.keys(secret.data)) expect(decode(secret, key), `${secret.metadata.name}.${key}`).toBe('');
    }
  });
});

describe('a private overlay on top of prod', () => {
  const dir = mkdtempSync(join(tmpdir(), 'handoff-live-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('replaces the Secrets, and every reference follows the new names', () => {
    writeFileSync(join(dir, 'secrets.env'), `WEBHOOK_SECRET=whsec_dGVzdA==\nADMIN_TOKEN=t0123456789abcdef\nSMTP_URL=smtp://relay:587\nTICKET_SIGNING_KEY=${'k'.repeat(32)}\n`);
    writeFileSync(join(dir, 'nats.env'), PASSWORD_VARIABLES.map((v) => `${v}=p${v.toLowerCase().replace(/[^a-z0-9]/g, '')}0123456789`).join('\n'));
    writeFileSync(
      join(dir, 'kustomization.yaml'),
      [
        'bases:',
        // kustomize wants a relative path to another kustomization (a git URL works as well).
        `  - ${relative(dir, join(k8sDir, 'overlays/prod'))}`,
        'secretGenerator:',
        '  - name: handoff-secrets',
        '    behavior: replace',
        '    env: secrets.env',
        '  - name: nats-passwords',
        '    behavior: replace',
        '    env: nats.env',
        '',
      ].join('\n'),
    );
    const objs = render(dir);
    const mailer = find(objs, 'Deployment', 'mailer')!.spec.template.spec.containers[0];
    const smtpRef = envOf(mailer, 'SMTP_URL').valueFrom.secretKeyRef;
    expect(decode(find(objs, 'Secret', smtpRef.name)!, 'SMTP_URL')).toBe('smtp://relay:587');
    const passwordRef = envOf(mailer, 'NATS_PASSWORD').valueFrom.secretKeyRef;
    expect(decode(find(objs, 'Secret', passwordRef.name)!, passwordRef.key)).toBe('pnatspasswordmailer0123456789');
  });
});
