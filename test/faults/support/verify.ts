import { readFile } from 'node:fs/promises';
import pg from 'pg';

/** What the ledger says about the jobs the API accepted, once they had time to finish. */
export interface Verdict {
  accepted: number;
  completed: number;
  /** Accepted but not COMPLETED at the end, including ids missing from the ledger. */
  lost: number;
  /** Up to 10 of the lost ids, to look up. */
  lostSample: string[];
  /** Status → count among the accepted jobs not COMPLETED ("MISSING": not in the ledger). */
  statuses: Record<string, number>;
  /** Jobs with more than one STATUS event into a terminal status: a job finished twice. */
  duplicateTerminal: number;
  /** Jobs with more than one STATUS event into COMPLETED: a handler's result recorded twice. */
  completedTwice: number;
  /** Jobs still RUNNING or CANCELLING at the end: owned by a worker nobody reaped. */
  stuckRunning: number;
  /** Failed attempts by error code (ATTEMPT events), e.g. WORKER_LOST, HANDLER_ERROR. */
  reasons: Record<string, number>;
  maxAttempt: number;
  /** How long until every accepted job was COMPLETED, or the whole timeout if some never were. */
  waitedMs: number;
}

const CHUNK = 5_000;
const TERMINAL = ['COMPLETED', 'FAILED', 'CANCELLED'];

/**
 * Waits until every accepted job is COMPLETED (or `timeoutMs` passes), then reads from the ledger
 * what a user relies on: nothing accepted is lost, nothing finishes twice, nothing stays stuck.
 * Connection failures while waiting are retried: the database may just have been restarted.
 */
export async function verifyLedger(databaseUrl: string, acceptedIds: string[], opts: { timeoutMs: number; pollMs?: number }): Promise<Verdict> {
  const ids = [...new Set(acceptedIds)];
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 2, connectionTimeoutMillis: 5_000 });
  pool.on('error', () => {});
  const started = Date.now();
  try {
    for (;;) {
      const completed = await countCompleted(pool, ids).catch(() => -1);
      if (completed === ids.length) break;
      if (Date.now() - started > opts.timeoutMs) break;
      await new Promise((resolve) => setTimeout(resolve, opts.pollMs ?? 500));
    }
    const waitedMs = Date.now() - started;
    return { ...(await judge(pool, ids)), waitedMs };
  } finally {
    await pool.end();
  }
}

async function countCompleted(pool: pg.Pool, ids: string[]): Promise<number> {
  let completed = 0;
  for (const chunk of chunks(ids)) {
    const { rows } = await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM "Job" WHERE id = ANY($1::uuid[]) AND status = 'COMPLETED'`, [chunk]);
    completed += rows[0]?.n ?? 0;
  }
  return completed;
}

async function judge(pool: pg.Pool, ids: string[]): Promise<Omit<Verdict, 'waitedMs'>> {
  const statuses: Record<string, number> = {};
  const reasons: Record<string, number> = {};
  const seen = new Set<string>();
  const lostSample: string[] = [];
  let completed = 0;
  let stuckRunning = 0;
  let maxAttempt = 0;
  let duplicateTerminal = 0;
  let completedTwice = 0;

  for (const chunk of chunks(ids)) {
    const jobs = await pool.query<{ id: string; status: string; attempt: number }>(
      `SELECT id, status, attempt FROM "Job" WHERE id = ANY($1::uuid[])`,
      [chunk],
    );
    for (const job of jobs.rows) {
      seen.add(job.id);
      maxAttempt = Math.max(maxAttempt, job.attempt);
      if (job.status === 'COMPLETED') {
        completed++;
        continue;
      }
      statuses[job.status] = (statuses[job.status] ?? 0) + 1;
      if (job.status === 'RUNNING' || job.status === 'CANCELLING') stuckRunning++;
      if (lostSample.length < 10) lostSample.push(job.id);
    }

    const finishes = await pool.query<{ terminal: number; completed: number }>(
      `SELECT count(*)::int AS terminal, (count(*) FILTER (WHERE status = 'COMPLETED'))::int AS completed
         FROM "JobEvent"
        WHERE "jobId" = ANY($1::uuid[]) AND kind = 'STATUS' AND status = ANY($2::"JobStatus"[])
        GROUP BY "jobId"`,
      [chunk, TERMINAL],
    );
    for (const row of finishes.rows) {
      if (row.terminal > 1) duplicateTerminal++;
      if (row.completed > 1) completedTwice++;
    }

    const attempts = await pool.query<{ reason: string; n: number }>(
      `SELECT coalesce(data->'error'->>'code', 'UNKNOWN') AS reason, count(*)::int AS n
         FROM "JobEvent"
        WHERE "jobId" = ANY($1::uuid[]) AND kind = 'ATTEMPT'
        GROUP BY 1`,
      [chunk],
    );
    for (const row of attempts.rows) reasons[row.reason] = (reasons[row.reason] ?? 0) + row.n;
  }

  const missing = ids.filter((id) => !seen.has(id.toLowerCase()));
  if (missing.length) statuses.MISSING = missing.length;
  lostSample.push(...missing.slice(0, Math.max(0, 10 - lostSample.length)));
  return {
    accepted: ids.length,
    completed,
    lost: ids.length - completed,
    lostSample,
    statuses,
    duplicateTerminal,
    completedTwice,
    stuckRunning,
    reasons,
    maxAttempt,
  };
}

function* chunks(ids: string[]): Generator<string[]> {
  for (let i = 0; i < ids.length; i += CHUNK) yield ids.slice(i, i + CHUNK);
}

/** Lines of the given logs that report a PostgreSQL deadlock; missing files count 0. */
export async function countDeadlockLogs(logPaths: string[]): Promise<number> {
  let count = 0;
  for (const path of logPaths) {
    const text = await readFile(path, 'utf8').catch(() => '');
    for (const line of text.split('\n')) if (line.includes('deadlock detected') || line.includes('40P01')) count++;
  }
  return count;
}
