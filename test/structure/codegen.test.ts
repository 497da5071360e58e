import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));

/**
 * The dashboard's and the CLI's answer types are generated from their operations and
 * schema.graphql (codegen.yml). An operation or a schema changed without `npm run codegen` leaves
 * them stale: the clients would compile against answers the API no longer gives.
 */
describe('generated GraphQL types', () => {
  it('are what codegen makes of the current schema and operations (npm run codegen)', () => {
    const run = spawnSync(process.execPath, [fileURLToPath(new URL('../../node_modules/@graphql-codegen/cli/esm/bin.js', import.meta.url)), '--config', 'codegen.yml', '--check'], {
      cwd: root,
      encoding: 'utf8',
    });
    expect(run.status, `${run.stdout}\n${run.stderr}`).toBe(0);
  });
});
