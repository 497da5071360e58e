/**
 * Workflow runs in the fault suite: the report-testing run driven over HTTP as its users drive it
 * (an operator starts it, an approver signs off each gate as it opens), what the ledger says of
 * the run's steps and jobs at the moment a fault is timed on, and the check every run scenario
 * ends with: the run's history numbered without a gap, every step's outcome recorded once, one
 * job per step, and, for a cancelled run, nothing started after the cancel.
 */
import pg from 'pg';
import { expect } from 'vitest';
import type { RunStatus, StepStatus } from '../../../src/jobs/runs/states.ts';
import { illegalTransitions, unlawfulRunMoves } from '../../helpers/history.ts';
import { waitFor } from '../../helpers/wait.ts';
import { recordRow } from './report.ts';
import type { Scenario } from './scenario.ts';
import { verifyLedger } from './verify.ts';

/** Every process sweeps runs each second: a run a fault left between steps moves on within ~1 s. */
export const RUN_ENV: Record<string, string> = { RUN_SWEEP_INTERVAL_MS: '1000' };

/** The report-testing workflow's steps, in definition order (src/tasks/report-testing.ts). */
export const TASK_STEPS = ['attributes', 'mappings', 'scoping', 'samples', 'profilingRules', 'datasetProfile', 'tests'] as const;
export const STEPS = ['attributes', 'mappings', 'scoping', 'scopingSignOff', 'samples', 'profilingRules', 'datasetProfile', 'tests', 'resultsSignOff'] as const;
/** The steps released together when the scoping sign-off is approved. */
export const AFTER_SCOPING = ['samples', 'profilingRules', 'datasetProfile'] as const;

export interface RunStepView {
  name: string;
  kind: 'TASK' | 'GATE';
  status: StepStatus;
  generation: number;
  error: string | null;
  job: { id: string; status: string; attempt: number } | null;
}

export interface RunView {
  id: string;
  status: RunStatus;
  reason: string | null;
  lastSeq: number;
  progress: number;
  steps: RunStepView[];
}

const RUN_FIELDS = 'id status reason lastSeq progress steps { name kind status generation error job { id status attempt } }';

/**
 * A client of the API over HTTP, whichever API process is current (`url` is asked on every
 * request, so a test that replaces a killed API goes on with the new one).
 */
export class RunClient {
  readonly #url: () => string;
  constructor(url: () => string) {
    this.#url = url;
  }

  /** One GraphQL request; throws on a transport error, an HTTP error or GraphQL errors. */
  async gql<T>(query: string, variables?: Record<string, unknown>): Promise<T> {
    const response = await fetch(`${this.#url()}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query, variables }),
      signal: AbortSignal.timeout(30_000),
    });
    const body = (await response.json()) as { data?: T; errors?: { message: string; extensions?: { code?: string } }[] };
    if (!response.ok || body.errors?.length || !body.data) throw new Error(`GraphQL ${response.status}: ${JSON.stringify(body.errors ?? body)}`);
    return body.data;
  }

  /** The demo data (seedDemoData, run by a worker) and the ids of its report and dataset. */
  async seedDemo(records: number): Promise<{ reportId: string; datasetId: string }> {
    const seeded = await this.gql<{ seedDemoData: { job: { id: string } } }>(`mutation($records: Int!) { seedDemoData(input: { records: $records }) { job { id } } }`, {
      records,
    });
    const jobId = seeded.seedDemoData.job.id;
    const job = await waitFor(
      () => this.gql<{ job: { status: string; error: { message: string } | null } }>('query($id: ID!) { job(id: $id) { status error { message } } }', { id: jobId }).then((d) => d.job),
      (job) => ['COMPLETED', 'FAILED', 'CANCELLED'].includes(job.status),
      60_000,
      'the demo data seeded',
    );
    if (job.status !== 'COMPLETED') throw new Error(`seedDemoData ended ${job.status}: ${job.error?.message ?? ''}`);
    const { reports, datasets } = await this.gql<{ reports: { id: string }[]; datasets: { id: string }[] }>('{ reports { id } datasets { id } }');
    return { reportId: reports[0]!.id, datasetId: datasets[0]!.id };
  }

  /** Starts the report-testing run; its id. */
  async start(ids: { reportId: string; datasetId: string }, idempotencyKey = 'fault-run'): Promise<string> {
    const data = await this.gql<{ startReportTesting: { deduplicated: boolean; run: { id: string } } }>(
      `mutation($input: StartReportTestingInput!, $key: String) { startReportTesting(input: $input, idempotencyKey: $key) { deduplicated run { id status } } }`,
      { input: { ...ids, sampling: { size: 50, method: 'RANDOM', seed: 7 } }, key: idempotencyKey },
    );
    return data.startReportTesting.run.id;
  }

  async read(runId: string): Promise<RunView> {
    return (await this.gql<{ run: RunView }>(`query($id: ID!) { run(id: $id) { ${RUN_FIELDS} } }`, { id: runId })).run;
  }

  /** The run, or undefined while the API cannot answer (killed, restarting, its ledger down). */
  readOrNothing(runId: string): Promise<RunView | undefined> {
    return this.read(runId).catch(() => undefined);
  }

  async approve(runId: string, step: string): Promise<RunView> {
    return (await this.gql<{ approveStep: RunView }>(`mutation($id: ID!, $step: String!) { approveStep(runId: $id, step: $step, comment: "ok") { ${RUN_FIELDS} } }`, { id: runId, step }))
      .approveStep;
  }

  async cancel(runId: string): Promise<RunView> {
    return (await this.gql<{ cancelRun: RunView }>(`mutation($id: ID!) { cancelRun(id: $id) { ${RUN_FIELDS} } }`, { id: runId })).cancelRun;
  }

  /** Waits until the run is WAITING at `gate` (the gate open, nothing running); the run then. */
  waitForGate(runId: string, gate: string, timeoutMs = 90_000): Promise<RunView> {
    return this.waitForRun(runId, (run) => run.status === 'WAITING' && stepOf(run, gate).status === 'WAITING', timeoutMs, `the run waiting at ${gate}`);
  }

  /** Polls the run until `done` holds; fails with the last run seen, and fails at once if the run ended otherwise. */
  async waitForRun(runId: string, done: (run: RunView) => boolean, timeoutMs: number, what: string): Promise<RunView> {
    const run = await waitFor(
      () => this.readOrNothing(runId),
      (run) => run !== undefined && (done(run) || ['FAILED', 'CANCELLED', 'COMPLETED'].includes(run.status)),
      timeoutMs,
      what,
    );
    if (!done(run!)) throw new Error(`run ${runId} ended ${run!.status} (${run!.reason ?? ''}) while waiting for ${what}: ${describeSteps(run!)}`);
    return run!;
  }

  /**
   * Takes the run to its end as an approver would: each gate approved as soon as it is open, until
   * the run is COMPLETED. Gates approved already (before a fault) are left alone.
   */
  async complete(runId: string, timeoutMs = 120_000): Promise<RunView> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const left = Math.max(1, deadline - Date.now());
      const run = await this.waitForRun(
        runId,
        (run) => run.status === 'COMPLETED' || (run.status === 'WAITING' && run.steps.some((step) => step.kind === 'GATE' && step.status === 'WAITING')),
        left,
        'the run completed or waiting at a gate',
      );
      if (run.status === 'COMPLETED') return run;
      const gate = run.steps.find((step) => step.kind === 'GATE' && step.status === 'WAITING')!;
      // An approval the API could not answer (it is restarting) is asked again on the next round.
      await this.approve(runId, gate.name).catch(() => undefined);
    }
  }
}

export function stepOf(run: RunView, name: string): RunStepView {
  const step = run.steps.find((candidate) => candidate.name === name);
  if (!step) throw new Error(`run ${run.id} has no step ${name}`);
  return step;
}

export function describeSteps(run: RunView): string {
  return run.steps.map((step) => `${step.name}=${step.status}${step.job ? `(${step.job.status}#${step.job.attempt})` : ''}`).join(' ');
}

/** What the ledger says of one step's current job, read straight from the test's database. */
export interface StepJobRow {
  step: string;
  stepStatus: StepStatus;
  jobId: string | null;
  jobStatus: string | null;
  progress: number | null;
  /** The worker holding the job (`host:pid:…`) while it runs. */
  lockedBy: string | null;
}

/**
 * The test's own reads of the ledger (its own PostgreSQL): where a run's steps and jobs are, to
 * time a fault on. Reads that fail (the database is being restarted) answer undefined.
 */
export class RunLedgerProbe {
  readonly #pool: pg.Pool;
  constructor(databaseUrl: string) {
    this.#pool = new pg.Pool({ connectionString: databaseUrl, max: 2, connectionTimeoutMillis: 5_000 });
    this.#pool.on('error', () => {});
  }

  async steps(runId: string): Promise<StepJobRow[] | undefined> {
    try {
      const { rows } = await this.#pool.query<StepJobRow>(
        `SELECT s.name AS step, s.status AS "stepStatus", s."jobId", j.status AS "jobStatus", j.progress, j."lockedBy"
           FROM "RunStep" s LEFT JOIN "Job" j ON j.id = s."jobId" WHERE s."runId" = $1 ORDER BY s.position`,
        [runId],
      );
      return rows;
    } catch {
      return undefined;
    }
  }

  /** Waits until `done` holds for the run's steps; the steps then. */
  async waitForSteps(runId: string, done: (steps: Map<string, StepJobRow>) => boolean, timeoutMs: number, what: string): Promise<Map<string, StepJobRow>> {
    const steps = await waitFor(
      async () => {
        const rows = await this.steps(runId);
        return rows && new Map(rows.map((row) => [row.step, row]));
      },
      (steps) => steps !== undefined && done(steps),
      timeoutMs,
      what,
    );
    return steps!;
  }

  /** Statements of the ledger's clients waiting for a row lock on `table`; -1 while the database cannot answer. */
  async lockWaiters(table: string): Promise<number> {
    try {
      const { rows } = await this.#pool.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%' || $1 || '%' AND pid <> pg_backend_pid()`,
        [`"${table}"`],
      );
      return rows[0]?.n ?? 0;
    } catch {
      return -1;
    }
  }

  async close(): Promise<void> {
    await this.#pool.end();
  }
}

/** The pid in a worker id (`host:pid:random`). */
export function pidOf(workerId: string): number {
  return Number(workerId.split(':').at(-2));
}

export interface RunVerdict {
  status: RunStatus;
  lastSeq: number;
  /** seqs missing from 1..lastSeq, or there more than once. */
  seqProblems: string[];
  /** Step and run moves the state machines (src/jobs/runs/states.ts) do not draw. */
  unlawful: string[];
  /** Job status changes src/jobs/states.ts does not draw, in the whole (per-scenario) ledger. */
  illegalJobTransitions: string[];
  /** Jobs per task step (every generation). */
  jobsPerStep: Record<string, number>;
  /** The last status each step's history gives it, and the step row's status. */
  steps: Record<string, { status: StepStatus; outcomes: string[]; releases: number; jobStatus: string | null; attempt: number | null }>;
  /** The run's jobs as verifyLedger judges them (duplicate terminal events, stuck, retried attempts). */
  jobs: Awaited<ReturnType<typeof verifyLedger>>;
  /** The run's slowest job, from its creation (the step's release) to COMPLETED, and how much of that it waited to start. */
  slowest: { step: string; ms: number; queuedMs: number } | null;
  /** The run's history and its jobs' status changes, one line each, for whoever reads a failure. */
  history: string[];
  /** For a cancelled run: when the cancel was recorded, and what of the run happened after it. */
  cancelledAt: Date | null;
  jobsCreatedAfterCancel: string[];
  runningAfterCancel: string[];
}

const OUTCOMES = ['COMPLETED', 'FAILED', 'CANCELLED', 'REJECTED'];

/** Reads everything the checks need of one run from its ledger. */
export async function judgeRun(databaseUrl: string, runId: string): Promise<RunVerdict> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const run = (await client.query<{ status: RunStatus; lastSeq: number }>(`SELECT status, "lastSeq" FROM "WorkflowRun" WHERE id = $1`, [runId])).rows[0];
    if (!run) throw new Error(`run ${runId} is not in the ledger`);
    const events = (
      await client.query<{ seq: number; step: string | null; status: string; message: string | null; at: Date }>(
        `SELECT seq, step, status, message, at FROM "RunEvent" WHERE "runId" = $1 ORDER BY seq`,
        [runId],
      )
    ).rows;
    const seqProblems: string[] = [];
    const seqs = events.map((event) => event.seq);
    for (let seq = 1; seq <= run.lastSeq; seq++) {
      const n = seqs.filter((s) => s === seq).length;
      if (n !== 1) seqProblems.push(`seq ${seq} recorded ${n} times`);
    }
    for (const seq of seqs) if (seq < 1 || seq > run.lastSeq) seqProblems.push(`seq ${seq} outside 1..${run.lastSeq}`);

    // Each step's history from PENDING, and the run's from its first status, along the drawn transitions.
    const unlawful = unlawfulRunMoves(events);
    // Where each step's history (and the run's: key null) ends.
    const last = new Map<string | null, string>(events.map((event) => [event.step, event.status]));

    const stepRows = (
      await client.query<{ name: string; status: StepStatus; jobStatus: string | null; attempt: number | null }>(
        `SELECT s.name, s.status, j.status AS "jobStatus", j.attempt FROM "RunStep" s LEFT JOIN "Job" j ON j.id = s."jobId" WHERE s."runId" = $1 ORDER BY s.position`,
        [runId],
      )
    ).rows;
    const steps: RunVerdict['steps'] = {};
    for (const row of stepRows) {
      const mine = events.filter((event) => event.step === row.name);
      steps[row.name] = {
        status: row.status,
        outcomes: mine.filter((event) => OUTCOMES.includes(event.status)).map((event) => event.status),
        releases: mine.filter((event) => event.status === 'ACTIVE').length,
        jobStatus: row.jobStatus,
        attempt: row.attempt,
      };
      if (row.status !== (last.get(row.name) ?? 'PENDING')) unlawful.push(`step ${row.name} is ${row.status} but its history ends ${last.get(row.name) ?? 'PENDING'}`);
    }
    if (run.status !== last.get(null)) unlawful.push(`run is ${run.status} but its history ends ${last.get(null)}`);

    const jobs = (await client.query<{ id: string; step: string; createdAt: Date }>(`SELECT id, step, "createdAt" FROM "Job" WHERE "runId" = $1`, [runId])).rows;
    const slowest =
      (
        await client.query<{ step: string; ms: number; queuedMs: number }>(
          `SELECT step, round(extract(epoch FROM "finishedAt" - "createdAt") * 1000)::int AS ms,
                  round(extract(epoch FROM "startedAt" - "createdAt") * 1000)::int AS "queuedMs"
             FROM "Job" WHERE "runId" = $1 AND status = 'COMPLETED' ORDER BY "finishedAt" - "createdAt" DESC LIMIT 1`,
          [runId],
        )
      ).rows[0] ?? null;
    const jobsPerStep: Record<string, number> = {};
    for (const job of jobs) jobsPerStep[job.step] = (jobsPerStep[job.step] ?? 0) + 1;

    const jobEvents = (
      await client.query<{ step: string; status: string; message: string | null; at: Date }>(
        `SELECT j.step, e.status, coalesce(e.message, e.data->'error'->>'code' || ': ' || (e.data->'error'->>'message')) AS message, e.at
           FROM "JobEvent" e JOIN "Job" j ON j.id = e."jobId"
          WHERE j."runId" = $1 AND e.kind IN ('STATUS', 'ATTEMPT') ORDER BY e.at, e."jobId", e.seq`,
        [runId],
      )
    ).rows;
    const history = [
      ...events.map((event) => ({ at: event.at, line: `run #${event.seq} ${event.step ?? 'run'} ${event.status}${event.message ? `: ${event.message}` : ''}` })),
      ...jobEvents.map((event) => ({ at: event.at, line: `job of ${event.step} ${event.status}${event.message ? `: ${event.message}` : ''}` })),
    ]
      .sort((a, b) => a.at.getTime() - b.at.getTime())
      .map(({ at, line }) => `${at.toISOString().slice(11, 23)} ${line}`);
    const cancelledAt = events.find((event) => event.step === null && event.status === 'CANCELLED')?.at ?? null;
    let jobsCreatedAfterCancel: string[] = [];
    let runningAfterCancel: string[] = [];
    if (cancelledAt) {
      jobsCreatedAfterCancel = jobs.filter((job) => job.createdAt > cancelledAt).map((job) => `${job.step} (job ${job.id}, created ${job.createdAt.toISOString()})`);
      runningAfterCancel = (
        await client.query<{ step: string; jobId: string; at: Date; message: string }>(
          `SELECT j.step, e."jobId", e.at, e.message FROM "JobEvent" e JOIN "Job" j ON j.id = e."jobId"
            WHERE j."runId" = $1 AND e.kind = 'STATUS' AND e.status = 'RUNNING' AND e.at > $2 ORDER BY e.at`,
          [runId, cancelledAt],
        )
      ).rows.map((row) => `${row.step} (job ${row.jobId}) RUNNING at ${row.at.toISOString()}: ${row.message}`);
    }

    return {
      status: run.status,
      lastSeq: run.lastSeq,
      seqProblems,
      unlawful,
      illegalJobTransitions: await illegalTransitions(databaseUrl),
      jobsPerStep,
      steps,
      slowest,
      history,
      jobs: await verifyLedger(
        databaseUrl,
        jobs.map((job) => job.id),
        { timeoutMs: 0 },
      ),
      cancelledAt,
      jobsCreatedAfterCancel,
      runningAfterCancel,
    };
  } finally {
    await client.end();
  }
}

/**
 * The check every run scenario ends with, and its row in FAULTS.md. A COMPLETED run: its history
 * numbered 1..lastSeq without a gap, every move lawful, each task step one job (COMPLETED, its
 * COMPLETED recorded once) and each step's outcome recorded once, as COMPLETED. A CANCELLED run:
 * the same history checks, no job of it created or started after the cancel, no step left open.
 */
export async function finishRun(
  scenario: Scenario,
  runId: string,
  opts: { expect: 'COMPLETED' | 'CANCELLED'; faultEndedAt?: number; notes?: string[]; restWithinMs?: number },
): Promise<RunVerdict> {
  const verdict = await judgeRun(scenario.pg.url, runId);
  const recovery = opts.faultEndedAt ? await nextRestAfter(scenario.pg.url, runId, opts.faultEndedAt) : null;
  const stepsOff = Object.entries(verdict.steps).filter(([, step]) =>
    opts.expect === 'COMPLETED' ? step.status !== 'COMPLETED' || step.outcomes.length !== 1 || step.outcomes[0] !== 'COMPLETED' : step.outcomes.length > 1,
  );
  const attempts = Object.entries(verdict.steps)
    .filter(([, step]) => (step.attempt ?? 0) > 1)
    .map(([name, step]) => `${name} attempt ${step.attempt}`);
  const reasons = Object.entries(verdict.jobs.reasons).map(([code, n]) => `${code} ${n}`);
  const notes = [
    `run ${verdict.status}, history 1..${verdict.lastSeq}${verdict.seqProblems.length ? ` with ${verdict.seqProblems.length} seq problem(s)` : ' without a gap'}`,
    ...(opts.notes ?? []),
    ...(verdict.slowest ? [`slowest step ${verdict.slowest.step} ${(verdict.slowest.ms / 1000).toFixed(1)} s from release (${(verdict.slowest.queuedMs / 1000).toFixed(1)} s to start)`] : []),
    ...(attempts.length ? [`steps run again: ${attempts.join(', ')}`] : []),
    ...(reasons.length ? [`retried attempts: ${reasons.join(', ')}`] : []),
    ...(stepsOff.length ? [`steps off: ${stepsOff.map(([name, step]) => `${name} ${step.status} [${step.outcomes.join(',')}]`).join(', ')}`] : []),
    ...(verdict.runningAfterCancel.length ? [`${verdict.runningAfterCancel.length} job(s) started after the cancel`] : []),
    ...(verdict.jobsCreatedAfterCancel.length ? [`${verdict.jobsCreatedAfterCancel.length} job(s) made after the cancel`] : []),
  ];
  const taskJobs = Object.values(verdict.jobsPerStep).reduce((a, b) => a + b, 0);
  recordRow({
    scenario: scenario.name,
    backend: scenario.opts.backend,
    accepted: taskJobs,
    completed: verdict.jobs.completed,
    lost: opts.expect === 'COMPLETED' ? TASK_STEPS.filter((name) => verdict.steps[name]?.jobStatus !== 'COMPLETED').length : 0,
    duplicateTerminal: verdict.jobs.duplicateTerminal + Object.values(verdict.steps).filter((step) => step.outcomes.length > 1).length,
    longestRecoveryMs: recovery,
    longestWaitMs: verdict.slowest?.ms ?? null,
    notes: notes.join('; '),
  });
  const { history, ...summary } = verdict;
  console.log(`${JSON.stringify({ scenario: scenario.name, backend: scenario.opts.backend, runId, ...summary, logs: scenario.logDir })}\n${history.join('\n')}`);

  const where = `(run ${runId}, logs in ${scenario.logDir})`;
  expect(verdict.status, where).toBe(opts.expect);
  expect(verdict.seqProblems, where).toEqual([]);
  expect(verdict.unlawful, where).toEqual([]);
  expect(verdict.illegalJobTransitions, where).toEqual([]);
  expect(verdict.jobs.duplicateTerminal, where).toBe(0);
  expect(verdict.jobs.completedTwice, where).toBe(0);
  expect(verdict.jobs.stuckRunning, where).toBe(0);
  // Every step's outcome recorded once (none twice, whatever the run's end).
  expect(Object.entries(verdict.steps).filter(([, step]) => step.outcomes.length > 1), where).toEqual([]);
  if (opts.faultEndedAt) {
    // The run came to rest again (the next gate open, or its end) within a bound well above what the
    // fault may cost: a lost worker found (STALE_AFTER_MS), a retry's backoff, a redispatch, a sweep.
    expect(recovery, `the run at rest again after the fault ${where}`).not.toBeNull();
    expect(recovery!, where).toBeLessThan(opts.restWithinMs ?? 30_000);
  }
  if (opts.expect === 'COMPLETED') {
    expect(verdict.jobsPerStep, where).toEqual(Object.fromEntries(TASK_STEPS.map((name) => [name, 1])));
    expect(verdict.jobs.lost, `jobs of the run not COMPLETED ${where}`).toBe(0);
    for (const name of STEPS) {
      expect(verdict.steps[name], `${name} ${where}`).toMatchObject({ status: 'COMPLETED', outcomes: ['COMPLETED'] });
      if (TASK_STEPS.includes(name as (typeof TASK_STEPS)[number])) expect(verdict.steps[name]!.releases, `${name} released once ${where}`).toBe(1);
    }
  } else {
    expect(verdict.jobsCreatedAfterCancel, `jobs made after the cancel ${where}`).toEqual([]);
    expect(verdict.runningAfterCancel, `jobs started after the cancel ${where}`).toEqual([]);
    // No step left open: each ended (COMPLETED before the cancel took it, or CANCELLED), once.
    for (const [name, step] of Object.entries(verdict.steps)) {
      expect(['COMPLETED', 'CANCELLED'], `${name} is ${step.status} ${where}`).toContain(step.status);
      expect(step.outcomes, `${name} ${where}`).toEqual([step.status]);
    }
    for (const name of TASK_STEPS) expect(verdict.jobsPerStep[name] ?? 0, `${name}: one job at most ${where}`).toBeLessThanOrEqual(1);
  }
  return verdict;
}

/**
 * How long after `at` the run next came to rest (WAITING at a gate, or ended): every run scenario
 * faults after the scoping sign-off, so this is the work left before the results sign-off plus
 * whatever the fault cost (without a fault, about 3 s on 2,000 records).
 */
async function nextRestAfter(databaseUrl: string, runId: string, at: number): Promise<number | null> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ at: Date | null }>(
      `SELECT min(at) AS at FROM "RunEvent" WHERE "runId" = $1 AND step IS NULL AND status IN ('WAITING', 'COMPLETED', 'FAILED', 'CANCELLED') AND at > $2`,
      [runId, new Date(at)],
    );
    const rest = rows[0]?.at;
    return rest ? Math.max(0, rest.getTime() - at) : null;
  } finally {
    await client.end();
  }
}
