import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { countReports, FLOOR_FILES, formatSummary, PASSES } from './suites.ts';

test('npm test runs every file on the current server and the runtime, end-to-end and chaos files on the floor', () => {
  expect(PASSES.map((p) => p.label)).toEqual(['current', 'floor']);
  expect(PASSES[0]!.files).toEqual([]);
  // A renamed folder must not silently drop the floor's coverage.
  for (const path of FLOOR_FILES) {
    expect(existsSync(path), path).toBe(true);
    const tests = path.endsWith('.test.ts') ? [path] : readdirSync(path, { recursive: true }).map(String);
    expect(tests.some((f) => f.endsWith('.test.ts')), path).toBe(true);
  }
  for (const e2e of ['test/tickets/e2e.test.ts', 'test/magic-link/login.e2e.test.ts']) {
    expect(FLOOR_FILES.some((path) => e2e.startsWith(path)), e2e).toBe(true);
  }
});

test('counts add up over a pass’s reports, and a missing report is named', () => {
  const dir = mkdtempSync(join(tmpdir(), 'handoff-suites-'));
  try {
    const a = join(dir, 'a.json');
    const b = join(dir, 'b.json');
    writeFileSync(a, JSON.stringify({ numPassedTests: 10, numFailedTests: 1, numPendingTests: 0 }));
    writeFileSync(b, JSON.stringify({ numPassedTests: 1, numFailedTests: 0, numPendingTests: 2, numTodoTests: 1 }));
    const counts = countReports([a, b, join(dir, 'missing.json')]);
    expect(counts).toEqual({ passed: 11, failed: 1, skipped: 3, missing: [join(dir, 'missing.json')] });
    expect(formatSummary({ label: 'floor', version: '2.9.10', binary: '/usr/sbin/nats-server', reports: [], ...counts, ok: false })).toBe(
      'nats-server 2.9.10 (floor): 11 passed, 1 failed, 3 skipped — FAILED',
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
