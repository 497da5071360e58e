import { Redis } from 'ioredis';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/wait.ts';
import { AFTER_SCOPING, RUN_ENV, RunClient, RunLedgerProbe, finishRun, pidOf, stepOf, type StepJobRow } from './support/runs.ts';
import { scenarioPerTest, sleep, type Backend } from './support/scenario.ts';

/**
 * Workflow runs meeting the suite's faults, in the layout users run (an API process without a
 * worker, two worker processes, clients over HTTP): the report-testing run on 2,000 demo records,
 * each gate approved over HTTP as soon as it opens. Each run must complete (or, cancelled, stay
 * cancelled with nothing started after the cancel), its history numbered without a gap, every
 * step's outcome recorded once, one job per step.
 */
const RECORDS = 2_000;

/** The scenario's world, its demo data, a client, a probe of its ledger, and a started run. */
async function startRun(startScenario: ReturnType<typeof scenarioPerTest>, name: string, backend: Backend) {
  const scenario = await startScenario(name, { backend, env: RUN_ENV });
  const client = new RunClient(() => scenario.api.url);
  const probe = new RunLedgerProbe(scenario.pg.url);
  try {
    const ids = await client.seedDemo(RECORDS);
    const runId = await client.start(ids);
    return { scenario, client, probe, runId };
  } catch (error) {
    await probe.close();
    throw error;
  }
}

/** Runs `body` on a started run, and closes the ledger probe after it, whatever happens. */
async function withRun(
  startScenario: ReturnType<typeof scenarioPerTest>,
  name: string,
  backend: Backend,
  body: (run: Awaited<ReturnType<typeof startRun>>) => Promise<void>,
): Promise<void> {
  const run = await startRun(startScenario, name, backend);
  try {
    await body(run);
  } finally {
    await run.probe.close();
  }
}

/** "samples ACTIVE/RUNNING, …": where the three steps after the scoping sign-off were when a fault hit. */
function released(steps: Map<string, StepJobRow> | StepJobRow[] | undefined): string {
  if (!steps) return 'unknown (ledger unreadable)';
  const byName = steps instanceof Map ? steps : new Map(steps.map((row) => [row.step, row]));
  return AFTER_SCOPING.map((name) => {
    const step = byName.get(name);
    return `${name} ${step?.stepStatus ?? '?'}${step?.jobStatus ? `/${step.jobStatus}` : ''}`;
  }).join(', ');
}

describe.each<Backend>(['bullmq', 'pgboss'])('workflow runs under faults on %s', (backend) => {
  const startScenario = scenarioPerTest();

  it('a worker SIGKILLed while a step runs: the run completes, each step one job and one outcome', () =>
    withRun(startScenario, 'run: worker SIGKILLed during datasetProfile', backend, async ({ scenario, client, probe, runId }) => {
      await client.waitForGate(runId, 'scopingSignOff');
      await client.approve(runId, 'scopingSignOff');
      // The dataset's profile under way in a worker, with progress recorded: the kill meets it mid-task.
      const steps = await probe.waitForSteps(
        runId,
        (s) => s.get('datasetProfile')?.jobStatus === 'RUNNING' && (s.get('datasetProfile')?.progress ?? 0) > 0 && !!s.get('datasetProfile')?.lockedBy,
        60_000,
        'datasetProfile running with progress',
      );
      const pid = pidOf(steps.get('datasetProfile')!.lockedBy!);
      const victim = scenario.workers.find((worker) => worker.pid === pid);
      expect(victim, `the worker ${steps.get('datasetProfile')!.lockedBy} is one of the scenario's`).toBeDefined();
      const exit = await victim!.kill('SIGKILL');
      const faultEndedAt = Date.now();
      await scenario.startWorker();

      const done = await client.complete(runId);
      expect(done.progress).toBe(100);
      const verdict = await finishRun(scenario, runId, {
        expect: 'COMPLETED',
        faultEndedAt,
        notes: [`killed (${exit.signal}) the worker running datasetProfile; at the kill: ${released(steps)}`],
      });
      // The kill met the step running: its job ran again, once, after the worker was found lost.
      expect(verdict.jobs.reasons.WORKER_LOST ?? 0).toBeGreaterThan(0);
      expect(verdict.steps.datasetProfile!.attempt).toBeGreaterThan(1);
    }));

  it('the API SIGKILLed as a gate approval commits, then started again: the run completes', () =>
    withRun(startScenario, 'run: API SIGKILLed as scopingSignOff is approved', backend, async ({ scenario, client, probe, runId }) => {
      await client.waitForGate(runId, 'scopingSignOff');
      // The approval goes out; the API dies as soon as the ledger has it, while it releases the next steps.
      const approving = client.approve(runId, 'scopingSignOff').then(
        () => 'answered',
        () => 'no answer',
      );
      const atKill = await probe.waitForSteps(runId, (s) => s.get('scopingSignOff')?.stepStatus === 'COMPLETED', 30_000, 'scopingSignOff approved in the ledger');
      await scenario.api.kill('SIGKILL');
      const faultEndedAt = Date.now();
      const answer = await approving;
      const afterKill = await probe.steps(runId);
      scenario.api = await scenario.deployment.startApi();

      const done = await client.complete(runId);
      expect(done.progress).toBe(100);
      await finishRun(scenario, runId, {
        expect: 'COMPLETED',
        faultEndedAt,
        notes: [
          `approval ${answer}`,
          `when the gate was seen approved: ${released(atKill)}`,
          `once the API was dead: ${released(afterKill)}`,
        ],
      });
    }));

  it('PostgreSQL restarted right after a gate approval: the run completes', () =>
    withRun(startScenario, 'run: PostgreSQL restarted after scopingSignOff approved', backend, async ({ scenario, client, probe, runId }) => {
      await client.waitForGate(runId, 'scopingSignOff');
      const approved = await client.approve(runId, 'scopingSignOff');
      // The three steps released (their jobs queued or just claimed): the restart meets them starting.
      const atFault = await probe.steps(runId);
      await scenario.pg.restart();
      const faultEndedAt = Date.now();

      const done = await client.complete(runId);
      expect(done.progress).toBe(100);
      await finishRun(scenario, runId, {
        expect: 'COMPLETED',
        faultEndedAt,
        notes: [
          `approval answered with ${AFTER_SCOPING.map((name) => `${name} ${stepOf(approved, name).status}`).join(', ')}`,
          `at the restart: ${released(atFault)}`,
        ],
      });
    }));

  it('cancelRun right after a gate approval: nothing of the run starts after it, every step ends once, the run stays CANCELLED', () =>
    withRun(startScenario, 'run: cancelRun while its steps are released', backend, async ({ scenario, client, probe, runId }) => {
      await client.waitForGate(runId, 'scopingSignOff');
      await client.approve(runId, 'scopingSignOff');
      const cancelled = await client.cancel(runId);
      expect(cancelled.status).toBe('CANCELLED');
      // Every step ended: the jobs the cancel met were cancelled (or had completed), the rest never made.
      const ended = await probe.waitForSteps(
        runId,
        (s) => [...s.values()].every((step) => ['COMPLETED', 'CANCELLED'].includes(step.stepStatus)),
        30_000,
        'every step of the cancelled run ended',
      );
      const seqAtEnd = (await client.read(runId)).lastSeq;
      // Nothing may happen now; three rounds of every process's run sweep (1 s) are given the chance.
      await sleep(3 * Number(RUN_ENV.RUN_SWEEP_INTERVAL_MS));
      const later = await client.read(runId);
      expect(later.status).toBe('CANCELLED');
      expect(later.lastSeq).toBe(seqAtEnd);

      const verdict = await finishRun(scenario, runId, {
        expect: 'CANCELLED',
        notes: [
          `the cancel answered ${AFTER_SCOPING.map((name) => `${name} ${stepOf(cancelled, name).status}/${stepOf(cancelled, name).job?.status ?? '-'}`).join(', ')}`,
          `at the end ${released(ended)}, tests ${ended.get('tests')!.stepStatus}, resultsSignOff ${ended.get('resultsSignOff')!.stepStatus}`,
        ],
      });
      // The steps after the three were never released: no job of theirs exists.
      expect(verdict.jobsPerStep.tests ?? 0).toBe(0);
      expect(verdict.steps.tests!.status).toBe('CANCELLED');
      expect(verdict.steps.resultsSignOff!.status).toBe('CANCELLED');
    }));
});

/**
 * cancelRun is two writes: the run moves to CANCELLED, then its advance cancels what is open (the
 * PENDING steps first, then the jobs of the ACTIVE ones). The API dying between them must not let
 * a step of the cancelled run start. To die exactly there, the test holds the row of the first
 * step the advance moves (tests) in a transaction of its own: the API is caught after the run's
 * CANCELLED, SIGKILLed, and the row let go. No worker is free meanwhile (all stopped), so the
 * released steps' jobs are still waiting in their queue when the cancel is recorded; a worker
 * comes back before the API does, as a worker whose slot frees would.
 */
describe.each<Backend>(['bullmq', 'pgboss'])('a workflow run cancelled by an API that dies on %s', (backend) => {
  const startScenario = scenarioPerTest();

  it('the API SIGKILLed inside cancelRun while the released steps wait for a worker: none of them starts after the cancel', async () => {
    const { scenario, client, probe, runId } = await startRun(startScenario, 'run: API SIGKILLed inside cancelRun, its steps waiting for a worker', backend);
    const holder = new pg.Client({ connectionString: scenario.pg.url });
    holder.on('error', () => {});
    try {
      await client.waitForGate(runId, 'scopingSignOff');
      for (const worker of scenario.workers) await worker.kill('SIGTERM');
      await client.approve(runId, 'scopingSignOff');
      const queued = await probe.waitForSteps(
        runId,
        (s) => AFTER_SCOPING.every((name) => s.get(name)?.jobStatus === 'QUEUED'),
        10_000,
        'the three released steps waiting in their queue',
      );

      await holder.connect();
      await holder.query('BEGIN');
      await holder.query(`SELECT 1 FROM "RunStep" WHERE "runId" = $1 AND name = 'tests' FOR UPDATE`, [runId]);
      const cancelling = client.cancel(runId).then(
        (run) => `answered ${run.status}`,
        () => 'no answer',
      );
      // The run's CANCELLED is recorded and the API's next write waits on the held row: it dies there.
      await waitFor(() => probe.lockWaiters('RunStep'), (n) => n > 0, 15_000, "the API's cancel waiting on the held step row");
      const { status: atKill } = await client.read(runId);
      await scenario.api.kill('SIGKILL');
      await holder.query('ROLLBACK');
      const answer = await cancelling;
      await scenario.startWorker();
      scenario.api = await scenario.deployment.startApi();

      const ended = await probe.waitForSteps(
        runId,
        (s) => [...s.values()].every((step) => ['COMPLETED', 'CANCELLED'].includes(step.stepStatus) && !['QUEUED', 'RUNNING', 'CANCELLING'].includes(step.jobStatus ?? '')),
        60_000,
        'every step of the cancelled run ended',
      );
      await finishRun(scenario, runId, {
        expect: 'CANCELLED',
        notes: [
          `before the cancel: ${released(queued)}; run ${atKill} when the API was killed, cancel ${answer}`,
          `at the end: ${released(ended)}, tests ${ended.get('tests')!.stepStatus}, resultsSignOff ${ended.get('resultsSignOff')!.stepStatus}`,
        ],
      });
    } finally {
      await holder.end().catch(() => {});
      await probe.close();
    }
  });
});

describe('workflow runs under faults on bullmq: Redis', () => {
  const startScenario = scenarioPerTest();

  it('Redis flushed right after a gate approval: the run completes', async () => {
    const { scenario, client, probe, runId } = await startRun(startScenario, 'run: Redis flushed after scopingSignOff approved', 'bullmq');
    try {
      await client.waitForGate(runId, 'scopingSignOff');
      await client.approve(runId, 'scopingSignOff');
      // The three steps' jobs were just handed to BullMQ: the flush takes whatever Redis held of them.
      const atFault = await probe.steps(runId);
      const redis = new Redis(scenario.redis.url);
      try {
        await redis.flushall();
      } finally {
        redis.disconnect();
      }
      const faultEndedAt = Date.now();

      const done = await client.complete(runId);
      expect(done.progress).toBe(100);
      await finishRun(scenario, runId, {
        expect: 'COMPLETED',
        faultEndedAt,
        notes: [`at the flush: ${released(atFault)}`],
      });
    } finally {
      await probe.close();
    }
  });
});
