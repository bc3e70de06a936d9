/**
 * The architecture's boundaries are lint rules (eslint.config.js): each one fires on a planted
 * violation, and the same import from an allowed place passes.
 */
import { join } from 'node:path';
import { ESLint } from 'eslint';
import { beforeAll, expect, test } from 'vitest';
import { repoRoot } from '../process.ts';

let eslint: ESLint;
beforeAll(() => {
  eslint = new ESLint({ cwd: repoRoot });
});

/** The messages ESLint reports for `code` as if it were the file at `path` (which need not exist). */
const lint = async (path: string, code: string) => {
  const [result] = await eslint.lintText(`${code}\nexport const planted = 1;\n`, { filePath: join(repoRoot, path) });
  return (result?.messages ?? []).filter((m) => m.ruleId === 'import-x/no-restricted-paths' || m.ruleId === 'no-restricted-imports');
};

const planted: Array<[string, string, string, RegExp]> = [
  ['a service imports another service', 'services/gateway/src/planted.ts', "import { createUserStore } from '../../auth/src/users.ts';", /Services meet only on subjects/],
  ['shared code imports a service', 'shared/jobs/planted.ts', "import { buildApp } from '../../services/gateway/src/app.ts';", /Shared code knows no service/],
  ['contracts import shared code', 'shared/contracts/planted.ts', "import { errorMessage } from '#shared/observability/errors';", /Contracts are data only/],
  ['contracts import a package other than zod', 'shared/contracts/planted.ts', "import { connect } from '@nats-io/transport-node';", /Contracts are data only/],
  ['NATS plumbing imports the job runtime', 'shared/nats/planted.ts', "import { PermanentError } from '#shared/jobs/errors';", /plumbing knows no jobs/],
  ['the process pool imports the job runtime', 'shared/process-pool/planted.ts', "import { PermanentError } from '#shared/jobs/errors';", /only processes/],
  ['observability imports NATS plumbing', 'shared/observability/planted.ts', "import { isConflict } from '#shared/nats/kv';", /knows no jobs and no NATS/],
  ['observability imports the job runtime', 'shared/observability/planted.ts', "import { decide } from '#shared/jobs/decide';", /knows no jobs and no NATS/],
  ['an import climbs three folders', 'services/ticketing/src/handlers/planted.ts', "import { SUBJECTS } from '../../../../shared/contracts/subjects.ts';", /not by climbing folders/],
];

for (const [what, path, code, message] of planted) {
  test(`lint fails when ${what}`, async () => {
    const messages = await lint(path, code);
    expect(messages.map((m) => m.message).join('\n')).toMatch(message);
  });
}

test('the same imports from where they belong pass', async () => {
  expect(await lint('services/auth/src/planted.ts', "import { createUserStore } from './users.ts';")).toEqual([]);
  expect(await lint('services/gateway/src/planted.ts', "import { SUBJECTS } from '#shared/contracts/subjects';")).toEqual([]);
  expect(await lint('shared/contracts/planted.ts', "import { z } from 'zod';\nimport { SUBJECTS } from './subjects.ts';")).toEqual([]);
  expect(await lint('shared/jobs/planted.ts', "import { isConflict } from '#shared/nats/kv';\nimport { errorMessage } from '#shared/observability/errors';")).toEqual([]);
});
