// `npm run schema`: writes schema.graphql, the public contract, from the code-first schema.
// `npm test` fails when the committed file is stale (test/api/schema.test.ts).
import { writeFile } from 'node:fs/promises';
import { printSchema } from 'graphql';
import { buildSchema } from '../src/api/schema/index.ts';
import { createTaskRegistry } from '../src/tasks/registry.ts';

export const SCHEMA_FILE = new URL('../schema.graphql', import.meta.url);

const registry = createTaskRegistry();

export function printAppSchema(): string {
  return `${printSchema(buildSchema(registry))}\n`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await writeFile(SCHEMA_FILE, printAppSchema());
  console.log(`wrote ${SCHEMA_FILE.pathname}`);
}
