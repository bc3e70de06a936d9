/**
 * The benchmark measures the shipped form: services and worker children run as compiled JavaScript
 * (`node dist/...`, as the container's ENTRYPOINT does), not TypeScript under the tsx loader, which
 * costs start-up time, a loader thread and ~40 MB of RSS per process that production never pays.
 *
 * `ensureCompiled()` runs `npm run build` (the Dockerfile's own step) when dist/ is missing or older
 * than any source, then transpiles the benchmark's own child entries into dist/bench/ so their
 * `#shared/...` imports resolve through dist/package.json to the same compiled shared code the
 * services run. dist/bench/ never reaches the image: the Dockerfile's build stage has no bench/.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

export const repoRoot = fileURLToPath(new URL('..', import.meta.url));
export const distDir = join(repoRoot, 'dist');
const STAMP = join(distDir, '.bench-build-stamp');

/** Sources whose change makes dist/ stale: what tsconfig.build.json compiles, plus its inputs. */
const BUILD_INPUTS = ['shared', 'services', 'tsconfig.json', 'tsconfig.build.json', 'deploy/dist-package.json', 'package.json'];
/** The benchmark's child entries; their relative imports (../stats.ts, …) are followed. */
const BENCH_ENTRIES = ['bench/children'];

const newestMtime = (path: string): number => {
  const full = join(repoRoot, path);
  if (!existsSync(full)) return 0;
  const stat = statSync(full);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = stat.mtimeMs;
  for (const entry of readdirSync(full, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name === 'test') continue;
    newest = Math.max(newest, newestMtime(join(path, entry.name)));
  }
  return newest;
};

/** True when dist/ was built (by us, with a stamp) after the newest build input changed. */
export const distIsFresh = (): boolean => {
  if (!existsSync(STAMP) || !existsSync(join(distDir, 'package.json'))) return false;
  return statSync(STAMP).mtimeMs >= Math.max(...BUILD_INPUTS.map(newestMtime));
};

const compilerOptions = (): ts.CompilerOptions => {
  const config = ts.getParsedCommandLineOfConfigFile(join(repoRoot, 'tsconfig.build.json'), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => undefined });
  if (!config) throw new Error('tsconfig.build.json could not be read');
  // transpileModule sees one file without package.json, so NodeNext would guess CommonJS: say ESM.
  return { ...config.options, module: ts.ModuleKind.ESNext, sourceMap: false, inlineSourceMap: false, declaration: false };
};

/** Transpiles one bench file and, recursively, the relative .ts files it imports, under `outRoot`. */
const transpileBenchFile = (file: string, options: ts.CompilerOptions, outRoot: string, done: Set<string>) => {
  if (done.has(file)) return;
  done.add(file);
  const source = readFileSync(file, 'utf8');
  const out = ts.transpileModule(source, { compilerOptions: options, fileName: file }).outputText;
  const target = join(outRoot, relative(repoRoot, file)).replace(/\.ts$/, '.js');
  mkdirSync(dirname(target), { recursive: true });
  writeFileSync(target, out);
  for (const match of source.matchAll(/from '(\.{1,2}\/[^']+\.ts)'/g)) {
    const imported = join(dirname(file), match[1] as string);
    if (imported.startsWith(join(repoRoot, 'bench'))) transpileBenchFile(imported, options, outRoot, done);
  }
};

/**
 * The benchmark's child entries as JavaScript under `outRoot` (dist/bench/children/…), each with
 * the bench modules it imports. Type-checking is `npm run typecheck`'s job; this only strips types
 * with tsconfig.build.json's options (relative `.ts` imports become `.js`). Returns the files written.
 */
export const transpileBenchChildren = (outRoot = distDir): string[] => {
  const options = compilerOptions();
  const done = new Set<string>();
  for (const dir of BENCH_ENTRIES) {
    for (const name of readdirSync(join(repoRoot, dir))) {
      if (name.endsWith('.ts')) transpileBenchFile(join(repoRoot, dir, name), options, outRoot, done);
    }
  }
  return [...done].map((file) => join(outRoot, relative(repoRoot, file)).replace(/\.ts$/, '.js'));
};

/**
 * Builds dist/ if needed and the benchmark's child entries always (they are small); returns what
 * it did, for the progress log. Throws with the compiler's output when the build fails.
 */
export const ensureCompiled = (): { built: boolean } => {
  let built = false;
  if (!distIsFresh()) {
    const started = Date.now();
    const npm = spawnSync('npm', ['run', 'build'], { cwd: repoRoot, encoding: 'utf8' });
    if (npm.status !== 0) throw new Error(`npm run build failed (${npm.status}):\n${(npm.stdout + npm.stderr).slice(-4_000)}`);
    // The stamp carries the build's start time: a source saved during the build makes it stale.
    writeFileSync(STAMP, `${new Date(started).toISOString()}\n`);
    utimesSync(STAMP, started / 1000, started / 1000);
    built = true;
  }
  transpileBenchChildren();
  return { built };
};

/** The compiled counterpart of a TypeScript entry in this repository: `services/launch.ts` → `dist/services/launch.js`. */
export const compiledEntry = (script: string): string => {
  const rel = relative(repoRoot, script);
  if (rel.startsWith('..') || !rel.endsWith('.ts')) throw new Error(`${script} is not a TypeScript entry of this repository`);
  const target = join(distDir, rel.replace(/\.ts$/, '.js'));
  if (!existsSync(target)) throw new Error(`${target} is missing: call ensureCompiled() before starting compiled children`);
  return target;
};
