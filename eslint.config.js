import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import importX from 'eslint-plugin-import-x';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';

const SERVICES = ['gateway', 'webhook-ingest', 'auth', 'ticketing', 'mailer', 'console', 'cli'];

/**
 * The architecture as lint rules (test/lint/boundaries.test.ts plants a violation of each):
 * services meet only on subjects, shared code knows no service, contracts are data only, and the
 * shared concepts import each other only one way (plumbing knows no jobs, observability knows
 * neither, a pool is only processes).
 */
const boundaries = [
  ...SERVICES.map((name) => ({
    target: `./services/${name}`,
    from: './services',
    except: [`./${name}`],
    message: 'Services meet only on subjects: import shared/ (through #shared/...), never another service.',
  })),
  { target: './shared', from: './services', message: 'Shared code knows no service.' },
  { target: './shared/contracts', from: './shared', except: ['./contracts'], message: 'Contracts are data only: they import zod and each other.' },
  { target: './shared/nats', from: './shared/jobs', message: 'NATS plumbing knows no jobs.' },
  { target: './shared/process-pool', from: './shared/jobs', message: 'A process pool is only processes.' },
  { target: './shared/observability', from: ['./shared/jobs', './shared/nats'], message: 'Observability knows no jobs and no NATS.' },
];

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', '.data/**', '.cache/**', 'tmp/**', 'bench/results/**', 'test/artifacts/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    plugins: { 'import-x': importX },
    settings: { 'import-x/resolver-next': [createTypeScriptImportResolver({ project: './tsconfig.json' })] },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-syntax': [
        'error',
        {
          selector: "MemberExpression[object.name='process'][property.name='env']",
          message: 'Read the environment only in a service main.ts (or a launcher), through shared/config.',
        },
      ],
    },
  },
  {
    files: ['services/**/*.ts', 'shared/**/*.ts'],
    rules: {
      'import-x/no-restricted-paths': ['error', { zones: boundaries }],
      'no-restricted-imports': [
        'error',
        { patterns: [{ regex: '^(\\.\\./){3,}', message: 'Import shared code through #shared/<concept>/<file>, not by climbing folders.' }] },
      ],
    },
  },
  {
    files: ['shared/contracts/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ regex: '^(?!zod$|\\./)', message: 'Contracts are data only: they import zod and each other, nothing else.' }] },
      ],
    },
  },
  {
    // Scripts the pages load in the browser (as modules): plain JavaScript, browser globals.
    files: ['services/*/src/page/assets/*.js'],
    languageOptions: {
      sourceType: 'module',
      globals: { document: 'readonly', fetch: 'readonly', setTimeout: 'readonly', TextDecoderStream: 'readonly' },
    },
  },
  {
    files: ['**/main.ts', 'services/launch.ts', 'vitest.config.ts', 'test/**', '**/test/**', 'bench/**', 'deploy/**', 'shared/config/**', 'services/*/src/launch/**'],
    rules: { 'no-restricted-syntax': 'off' },
  },
);
