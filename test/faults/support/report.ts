import { appendFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { FAULT_ENV } from './env.ts';

/** One scenario's outcome: a line of the table in FAULTS.md. */
export interface FaultRow {
  scenario: string;
  backend: string;
  accepted: number;
  completed: number;
  lost: number;
  duplicateTerminal: number;
  /** Longest time from a fault's end until every job accepted before it had completed; null when not measured. */
  longestRecoveryMs: number | null;
  /** Longest time one accepted job took from its acceptance to COMPLETED. */
  longestWaitMs?: number | null;
  notes?: string;
}

/** The rows file of this run: set by the global setup, so every test worker appends to the same one. */
export function rowsFile(): string {
  return process.env.FAULTS_ROWS ?? join(tmpdir(), 'jobgraph-faults-rows.jsonl');
}

/**
 * Appends a row as one JSON line. Test files run in several processes: a single small append is
 * atomic, so their rows never interleave.
 */
export function recordRow(row: FaultRow): void {
  appendFileSync(rowsFile(), `${JSON.stringify(row)}\n`);
}

/** The rows recorded in `file`, in order; none if it does not exist. */
export async function readRows(file: string): Promise<FaultRow[]> {
  const text = await readFile(file, 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter((line) => line.trim())
    .map((line) => JSON.parse(line) as FaultRow);
}

/** Prints the table of the rows in `rowsFile` and writes it, with how it was made, to `outFile`. */
export async function writeReport(rowsFile: string, outFile = 'FAULTS.md'): Promise<void> {
  const table = markdownTable(await readRows(rowsFile));
  process.stdout.write(`\n${table}\n`);
  const memoryGiB = (totalmem() / 2 ** 30).toFixed(1);
  const text = [
    '# Fault suite',
    '',
    'Each scenario runs jobgraph as real processes (API, workers, Redis, PostgreSQL), enqueues jobs over HTTP while',
    'a fault happens, then checks in the ledger that every accepted job completed, once.',
    '',
    `- date: ${new Date().toISOString()}`,
    '- command: `npm run test:faults`',
    `- machine: ${cpus().length} cores, ${memoryGiB} GiB memory, Node ${process.version}`,
    `- settings of every process, unless a scenario says otherwise: ${Object.entries(FAULT_ENV)
      .map(([key, value]) => `\`${key}=${value}\``)
      .join(', ')}`,
    '- lost: accepted (answered with an id) but not COMPLETED at the end; duplicate terminal events: jobs with more than one',
    '  terminal STATUS event; longest recovery: from the end of the fault until the last job accepted before it completed;',
    '  longest job wait: the longest any accepted job took from acceptance to COMPLETED.',
    '',
    table,
    '',
  ].join('\n');
  await writeFile(outFile, text);
}

function markdownTable(rows: FaultRow[]): string {
  const header = ['scenario', 'backend', 'accepted', 'completed', 'lost', 'duplicate terminal events', 'longest recovery (s)', 'longest job wait (s)', 'notes'];
  const lines = rows.map((row) => [
    row.scenario,
    row.backend,
    String(row.accepted),
    String(row.completed),
    String(row.lost),
    String(row.duplicateTerminal),
    row.longestRecoveryMs === null ? '—' : (row.longestRecoveryMs / 1_000).toFixed(1),
    row.longestWaitMs === null || row.longestWaitMs === undefined ? '—' : (row.longestWaitMs / 1_000).toFixed(1),
    row.notes ?? '',
  ]);
  const cell = (value: string) => value.replaceAll('|', '\\|').replaceAll('\n', ' ');
  return [header, header.map(() => '---'), ...lines].map((cells) => `| ${cells.map(cell).join(' | ')} |`).join('\n');
}
