// `node --import ./bin/compile-cache.mjs <entry.ts>` (npm start, npm run worker): Node's compile
// cache on before the entry loads, so that no file of the project is type-stripped or compiled
// again once the cache is warm (npm install warms it). A TypeScript entry that enabled the cache
// itself would be stripped first, and loading the stripper costs each process ~10–20 MB (measured).
// The cache is the project's own (not the shared temporary folder, which another user may own).
import module from 'node:module';
import process from 'node:process';
import { fileURLToPath, URL } from 'node:url';

export const compileCacheDir = process.env.NODE_COMPILE_CACHE || fileURLToPath(new URL('../node_modules/.cache/jobgraph/compile', import.meta.url));
module.enableCompileCache?.(compileCacheDir);
