/**
 * Liveness: workers and their heartbeats, and the recovery of jobs whose worker stopped
 * heartbeating (the reaper's half of the invariant in states.ts).
 */
import type { Job } from '../../generated/prisma/client.ts';
import type { JobStatus } from '../../generated/prisma/enums.ts';
import { guard, HELD_SCAN, lockIdsInOrder, Params, updateJob, type Change, type LedgerContext } from './sql.ts';

export interface WorkerRegistration {
  id: string;
  hostname: string;
  pid: number;
  backend: string;
  concurrency: number;
}

export class Liveness {
  private readonly ctx: LedgerContext;
  constructor(ctx: LedgerContext) {
    this.ctx = ctx;
  }

  async registerWorker(worker: WorkerRegistration): Promise<void> {
    await this.ctx.db.query(
      `INSERT INTO "Worker" (id, hostname, pid, backend, concurrency) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (id) DO UPDATE SET "heartbeatAt" = now(), "stoppedAt" = NULL`,
      [worker.id, worker.hostname, worker.pid, worker.backend, worker.concurrency],
    );
  }

  async unregisterWorker(workerId: string): Promise<void> {
    await this.ctx.db.query(`UPDATE "Worker" SET "stoppedAt" = now() WHERE id = $1`, [workerId]);
  }

  /**
   * Refreshes the heartbeat of the jobs `workerId` runs; returns each one's status, or no entry for
   * a job this worker no longer holds (the reaper gave it away).
   */
  async heartbeat(workerId: string, jobIds: string[]): Promise<Map<string, JobStatus>> {
    await this.ctx.db.query(`UPDATE "Worker" SET "heartbeatAt" = now() WHERE id = $1`, [workerId]);
    if (jobIds.length === 0) return new Map();
    const rows = await this.ctx.db.query<{ id: string; status: JobStatus }>(
      `WITH l AS MATERIALIZED (${lockIdsInOrder('$1::uuid[]', '"lockedBy" = $2')})
       UPDATE "Job" SET "heartbeatAt" = now() FROM l WHERE "Job".id = l.id AND "lockedBy" = $2 RETURNING "Job".id, "Job"."status"`,
      [jobIds, workerId],
      'jobgraph.heartbeat',
    );
    return new Map(rows.map((row) => [row.id, row.status]));
  }

  /** RUNNING or CANCELLING jobs whose heartbeat is older than `staleMs` (or, with 0, all of them). */
  async staleJobs(staleMs: number): Promise<Job[]> {
    return this.ctx.db.query<Job>(
      `SELECT * FROM "Job" WHERE ${HELD_SCAN}
         AND ("heartbeatAt" IS NULL OR "heartbeatAt" < now() - $1 * interval '1 millisecond')
       ORDER BY "heartbeatAt" LIMIT 100`,
      [staleMs],
    );
  }

  /**
   * A job whose worker was lost: the attempt counts. With attempts left it is RETRYING, due at
   * once and leased for dispatch (the after-write step sends it out); otherwise it fails with
   * WORKER_LOST. A job being cancelled ends CANCELLED. The heartbeat must still be the stale one
   * seen, so a worker that just came back is not robbed.
   */
  async recoverLost(job: Job): Promise<Change | undefined> {
    const p = new Params();
    const lost = `worker ${job.lockedBy ?? '?'} stopped heartbeating during attempt ${job.attempt}`;
    const where = `id = ${p.add(job.id)} AND ${guard('recoverLost')} AND "status" = ${p.add(job.status)}::"JobStatus"
       AND "lockedBy" IS NOT DISTINCT FROM ${p.add(job.lockedBy)}
       AND "heartbeatAt" IS NOT DISTINCT FROM ${p.add(job.heartbeatAt)}::timestamptz`;
    const write = (set: string, events: Parameters<typeof updateJob>[4]) =>
      updateJob(this.ctx.db, p, set, where, events, 'recoverLost').then((change) => this.ctx.after(change));
    if (job.status === 'CANCELLING') {
      return write(`"status" = 'CANCELLED', "finishedAt" = now(), "lockedBy" = NULL`, [{ kind: 'STATUS', message: lost }]);
    }
    if (job.status === 'RUNNING' && job.attempt < job.maxAttempts) {
      return write(
        `"status" = 'RETRYING', "errorCode" = 'WORKER_LOST', "errorMessage" = ${p.add(lost)}, "lockedBy" = NULL,
         "heartbeatAt" = NULL, "runAt" = now(), "dispatchedAt" = now(), "queueRef" = NULL`,
        [{ kind: 'ATTEMPT', message: `${lost}; retrying now`, data: { error: { code: 'WORKER_LOST', message: lost } } }],
      );
    }
    return write(
      `"status" = 'FAILED', "errorCode" = 'WORKER_LOST', "errorMessage" = ${p.add(lost)}, "finishedAt" = now(), "lockedBy" = NULL`,
      [{ kind: 'STATUS', message: `WORKER_LOST: ${lost}` }],
    );
  }
}
