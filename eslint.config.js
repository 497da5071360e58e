// `npm run lint` (part of `npm test`): ESLint's and typescript-eslint's recommended rules, and the
// rules that need type information for what they catch: a promise nobody awaits or handles (its
// rejection is an unhandled rejection: a crash), a promise where a callback's result is ignored,
// a switch that misses a case of a union. A rule switched off, or a line allowed, says why.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', 'src/generated/', '**/*.generated.ts', 'coverage/', 'dist/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      // `_`-prefixed names mark a parameter a signature needs but the body does not use.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['**/*.ts', '**/*.tsx'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': ['error', { considerDefaultExhaustiveForUnions: true }],
    },
  },
  {
    files: ['test/**/*.ts'],
    rules: {
      // GraphQL answers are untyped JSON: tests read them as `any` instead of a type per query.
      '@typescript-eslint/no-explicit-any': 'off',
    },
  },
);
