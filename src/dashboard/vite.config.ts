// `npm run build`: the dashboard's single-page app, bundled (no CDN) into dist/dashboard at the
// repo root, which src/api/dashboard.ts serves at /dashboard/.
import { fileURLToPath } from 'node:url';
import preact from '@preact/preset-vite';
import { defineConfig } from 'vite';

const here = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  root: here,
  base: '/dashboard/',
  plugins: [preact()],
  css: { modules: { localsConvention: 'camelCaseOnly' } },
  build: {
    outDir: fileURLToPath(new URL('../../dist/dashboard', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: true,
  },
  // `vite --config src/dashboard/vite.config.ts` during development: the API on :4000 answers GraphQL.
  server: { proxy: { '/graphql': { target: 'http://localhost:4000', ws: true } } },
});
