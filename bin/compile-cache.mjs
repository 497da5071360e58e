// `node --import ./bin/compile-cache.mjs <entry.ts>` (npm start, npm run worker): Node's compile
// cache on before the entry loads, so that no file of the project is type-stripped or compiled
// again once the cache is warm (npm install warms it). A TypeScript entry that enabled the cache
// itself would be stripped first, and loading the stripper costs each process ~10–20 MB (measured).
import module from 'node:module';

module.enableCompileCache?.();
