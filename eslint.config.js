import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', '.data/**', 'tmp/**', 'bench/results/**', 'test/artifacts/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
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
    files: ['**/main.ts', 'services/launch.ts', 'vitest.config.ts', 'test/**', '**/test/**', 'bench/**', 'deploy/**', 'shared/config/**', 'services/*/src/launch/**'],
    rules: { 'no-restricted-syntax': 'off' },
  },
);
