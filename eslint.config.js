// `npm run lint` (part of `npm test`): ESLint's and typescript-eslint's recommended rules, no
// type information (fast). A rule switched off says why.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', 'src/generated/', 'coverage/', 'dist/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      // `_`-prefixed names mark a parameter a signature needs but the body does not use.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
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
