/** Rendering the kustomize overlays and reading the rendered objects, for the deploy tests. */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';

// Whichever kubectl is present (current: kustomize v5; Debian's kubernetes-client: v2). KUBECTL
// points the tests at another binary to check the kustomizations against both.
export const KUBECTL = process.env.KUBECTL ?? 'kubectl';
export const k8sDir = fileURLToPath(new URL('../../deploy/k8s/', import.meta.url));

/* eslint-disable @typescript-eslint/no-explicit-any -- rendered manifests are untyped JSON */
export type Obj = Record<string, any>;

export const render = (dir: string): Obj[] => {
  const run = spawnSync(KUBECTL, ['kustomize', dir], { encoding: 'utf8', maxBuffer: 32 * 1024 * 1024 });
  if (run.status !== 0) throw new Error(`kubectl kustomize ${dir} failed:\n${run.stderr}`);
  return parseAllDocuments(run.stdout)
    .map((doc) => doc.toJS() as Obj | null)
    .filter((o): o is Obj => o !== null);
};

export const find = (objs: Obj[], kind: string, name: string) => objs.find((o) => o.kind === kind && o.metadata.name === name);
export const decode = (secret: Obj, key: string) => Buffer.from(String(secret.data?.[key] ?? ''), 'base64').toString('utf8');
export const envOf = (container: Obj, name: string) => (container.env ?? []).find((e: Obj) => e.name === name);
