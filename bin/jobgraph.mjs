#!/usr/bin/env node
// `jobgraph`: the command line client of the jobgraph API (src/cli/main.ts). The sources keep to
// TypeScript that Node strips by itself (Node ≥ 22.18: process.features.typescript), so it runs
// from a checkout without a build step and without a compiler at start; an older Node compiles
// them with tsx as they load.
import module from 'node:module';
import process from 'node:process';

// Node keeps what it compiled (the sources stripped of their types, and their bytecode) for the
// next run, in its cache directory ($NODE_COMPILE_CACHE, else node-compile-cache in the temporary
// directory), as `npm start` does: a run after the first compiles nothing. (Node < 22.1 has none.)
module.enableCompileCache?.();
if (!process.features.typescript) {
  const { fileURLToPath, URL } = await import('node:url');
  const { register } = await import('tsx/esm/api');
  register({ tsconfig: fileURLToPath(new URL('../tsconfig.json', import.meta.url)) });
}
await import('../src/cli/main.ts');
