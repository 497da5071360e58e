#!/usr/bin/env node
// `jobgraph`: the command line client of the jobgraph API (src/cli/main.ts). tsx compiles the
// TypeScript sources as they load, so it runs from a checkout without a build step.
import { fileURLToPath, URL } from 'node:url';
import { register } from 'tsx/esm/api';

register({ tsconfig: fileURLToPath(new URL('../tsconfig.json', import.meta.url)) });
await import('../src/cli/main.ts');
