import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readRows, writeReport } from './report.ts';

/**
 * The fault suite's vitest globalSetup, for a report at `outFile`: a fresh rows file per run
 * (FAULTS_ROWS, set before the test workers start so they inherit it), and at the end the table,
 * if any scenario recorded a row: a run that recorded nothing leaves the last report alone.
 */
export function reportAt(outFile: string): () => Promise<() => Promise<void>> {
  return async () => {
    const rowsFile = join(tmpdir(), `jobgraph-faults-rows-${process.pid}-${Date.now()}.jsonl`);
    process.env.FAULTS_ROWS = rowsFile;
    await rm(rowsFile, { force: true });
    return async () => {
      if ((await readRows(rowsFile)).length) await writeReport(rowsFile, outFile);
      await rm(rowsFile, { force: true });
    };
  };
}

export default reportAt(fileURLToPath(new URL('../../../FAULTS.md', import.meta.url)));
