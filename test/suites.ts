/**
 * `npm test`'s test passes, one per supported nats-server: the whole suite on the current server
 * (the primary target), then the runtime, end-to-end and chaos tests on the floor (2.9.10). Each
 * pass is one vitest run, the short chaos soak in parallel with the other files (it must hold
 * under that load, as a production system must), with its own JSON report; the end prints one
 * line per server with its version and counts (also written to test/artifacts/summary.json for CI).
 *
 *   node --import tsx test/suites.ts [current|floor|all] [-- extra vitest args]
 */
import { spawnSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { currentNatsServerBin, floorNatsServerBin, natsServerVersion } from '../deploy/nats/nats-server-binary.ts';

export interface Pass {
  /** `current` or `floor`: names the reports. */
  label: 'current' | 'floor';
  binary: () => string;
  /** vitest file filters for the parallel run; empty = every file. */
  files: readonly string[];
}

/**
 * On the floor: the job runtime, both end-to-end flows (a paid order to its tickets email, with
 * its deadlines; sign-in with its mailer), poison messages and the chaos soak. What 2.9 changes
 * (redelivery, term, nak with delay, reads after a restart) is what these files exercise; the
 * rest (HTTP, browser, unit tests with fakes, the ticketing integration files the chaos soak and
 * the e2e test already cover) runs on the current server, so both passes fit CI's 15 minutes.
 */
export const FLOOR_FILES = [
  'test/runtime/',
  'test/tickets/e2e.test.ts',
  'test/tickets/order-deadlines.test.ts',
  'test/tickets/order-events.test.ts',
  'test/tickets/ticket-reads.test.ts',
  'test/magic-link/login.e2e.test.ts',
  'test/magic-link/mailer-delivery.test.ts',
  'test/poison/',
  'test/chaos/',
] as const;

export const PASSES: readonly Pass[] = [
  { label: 'current', binary: currentNatsServerBin, files: [] },
  { label: 'floor', binary: floorNatsServerBin, files: FLOOR_FILES },
];

interface Counts {
  passed: number;
  failed: number;
  skipped: number;
}

export interface PassSummary extends Counts {
  label: Pass['label'];
  version: string;
  binary: string;
  reports: string[];
  ok: boolean;
}

const ARTIFACTS = 'test/artifacts';

/** Passed/failed/skipped from vitest JSON reports; a missing report (vitest crashed) counts as a failure. */
export const countReports = (files: readonly string[]): Counts & { missing: string[] } => {
  const counts = { passed: 0, failed: 0, skipped: 0, missing: [] as string[] };
  for (const file of files) {
    if (!existsSync(file)) {
      counts.missing.push(file);
      continue;
    }
    const report = JSON.parse(readFileSync(file, 'utf8')) as { numPassedTests: number; numFailedTests: number; numPendingTests: number; numTodoTests?: number };
    counts.passed += report.numPassedTests;
    counts.failed += report.numFailedTests;
    counts.skipped += report.numPendingTests + (report.numTodoTests ?? 0);
  }
  return counts;
};

export const formatSummary = (s: PassSummary): string =>
  `nats-server ${s.version} (${s.label}): ${s.passed} passed, ${s.failed} failed` + (s.skipped ? `, ${s.skipped} skipped` : '') + (s.ok ? '' : ' — FAILED');

const vitest = (args: string[], env: NodeJS.ProcessEnv): number => {
  const run = spawnSync('npx', ['vitest', 'run', ...args], { stdio: 'inherit', env });
  return run.status ?? 1;
};

export const runPass = (pass: Pass, extra: string[] = []): PassSummary => {
  const binary = pass.binary();
  const version = natsServerVersion(binary);
  console.log(`\n=== ${pass.label} server: nats-server ${version} (${binary}) ===\n`);
  const reports = [`${ARTIFACTS}/vitest-${pass.label}.json`];
  const status = vitest([...pass.files, ...extra], { ...process.env, NATS_SERVER_BIN: binary, VITEST_JSON_REPORT: reports[0] });
  const counts = countReports(reports);
  return { label: pass.label, version, binary, reports, ...counts, ok: status === 0 && counts.failed === 0 && counts.missing.length === 0 };
};

const main = () => {
  const [which = 'all', ...rest] = process.argv.slice(2);
  const extra = rest[0] === '--' ? rest.slice(1) : rest;
  const passes = PASSES.filter((p) => which === 'all' || p.label === which);
  if (passes.length === 0) {
    console.error(`usage: test/suites.ts [current|floor|all] [-- vitest args]; got "${which}"`);
    process.exit(2);
  }
  mkdirSync(ARTIFACTS, { recursive: true });
  const summaries = passes.map((pass) => runPass(pass, extra));
  writeFileSync(`${ARTIFACTS}/summary.json`, `${JSON.stringify(summaries, null, 2)}\n`);
  console.log('');
  for (const s of summaries) console.log(formatSummary(s));
  process.exit(summaries.every((s) => s.ok) ? 0 : 1);
};

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main();
