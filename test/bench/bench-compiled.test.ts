import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { compiledEntry, distDir, repoRoot, transpileBenchChildren } from '../../bench/compiled.ts';

test('the bench child entries transpile to ES modules whose relative imports point at .js files written beside them', () => {
  const out = mkdtempSync(join(tmpdir(), 'handoff-bench-dist-'));
  try {
    const written = transpileBenchChildren(out);
    expect(written).toEqual(expect.arrayContaining([join(out, 'bench/children/job-worker.js'), join(out, 'bench/stats.js'), join(out, 'bench/job-shape.js')]));
    const worker = readFileSync(join(out, 'bench/children/job-worker.js'), 'utf8');
    expect(worker).toMatch(/from ["']\.\.\/stats\.js["']/);
    expect(worker).toContain("from '#shared/jobs/workers'");
    expect(worker).not.toContain('exports.');
    expect(worker).not.toMatch(/: z\.infer</);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('a TypeScript entry maps to its compiled file in dist/, and anything outside the repository is refused', () => {
  expect(() => compiledEntry('/etc/passwd.ts')).toThrow(/not a TypeScript entry/);
  expect(() => compiledEntry(join(repoRoot, 'services/launch.js'))).toThrow(/not a TypeScript entry/);
  let mapped: string | undefined;
  try {
    mapped = compiledEntry(join(repoRoot, 'services/launch.ts'));
  } catch (error) {
    // No dist/ in this checkout: the message says what to do.
    expect(String(error)).toContain('ensureCompiled()');
  }
  if (mapped !== undefined) expect(mapped).toBe(join(distDir, 'services/launch.js'));
});
