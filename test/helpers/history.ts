import pg from 'pg';
import { canTransition, type JobStatus } from '../../src/jobs/states.ts';
import { canMoveRun, canMoveStep, type RunStatus, type StepStatus } from '../../src/jobs/runs/states.ts';

/**
 * Reads every job's history in a database and returns the status changes the state machine
 * (src/jobs/states.ts) does not allow. Run after a suite: whatever the scenarios did, each
 * job's recorded statuses must follow the drawn transitions.
 */
export async function illegalTransitions(databaseUrl: string): Promise<string[]> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ jobId: string; seq: number; status: JobStatus }>(
      `SELECT "jobId", seq, status FROM "JobEvent" ORDER BY "jobId", seq`,
    );
    const problems: string[] = [];
    let previous: (typeof rows)[number] | undefined;
    for (const row of rows) {
      if (previous?.jobId === row.jobId && previous.status !== row.status && !canTransition(previous.status, row.status)) {
        problems.push(`job ${row.jobId}: ${previous.status} → ${row.status} at seq ${row.seq}`);
      }
      if (previous?.jobId !== row.jobId && row.seq !== 1) problems.push(`job ${row.jobId}: history starts at seq ${row.seq}`);
      if (previous?.jobId === row.jobId && row.seq !== previous.seq + 1) problems.push(`job ${row.jobId}: seq gap before ${row.seq}`);
      previous = row;
    }
    return problems;
  } finally {
    await client.end();
  }
}

/**
 * The moves of a run's history (its RunEvents in seq order) that the run and step state tables
 * (src/jobs/runs/states.ts) do not allow: each step from PENDING, the run from its first status.
 */
export function unlawfulRunMoves(events: readonly { seq: number; step: string | null; status: string }[]): string[] {
  const problems: string[] = [];
  const last = new Map<string | null, string>();
  for (const event of events) {
    const from = last.get(event.step) ?? (event.step === null ? undefined : 'PENDING');
    const lawful =
      from === undefined ||
      (event.step === null ? canMoveRun(from as RunStatus, event.status as RunStatus) : canMoveStep(from as StepStatus, event.status as StepStatus));
    if (!lawful) problems.push(`seq ${event.seq}: ${event.step ?? 'run'} ${from} → ${event.status}`);
    last.set(event.step, event.status);
  }
  return problems;
}
