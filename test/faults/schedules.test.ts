import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/wait.ts';
import { RunClient } from './support/runs.ts';
import { scenarioPerTest, sleep, type Backend, type Scenario } from './support/scenario.ts';

/**
 * A per-second schedule fired by every process of the layout users run (the API and two workers,
 * each with its scheduler), while processes are SIGKILLed at the tick, one at a time, and then all
 * at once. Each tick is one job keyed by schedule and tick, so what must hold is: no tick has two
 * jobs; while any process runs, no tick is missed; after everything was down, the missed ticks
 * make one job (catchUp ONCE) and the schedule goes on from there.
 */
const KILLS = 6;

interface TickJob {
  id: string;
  tick: number;
  status: string;
}

async function tickJobs(url: string, scheduleId: string): Promise<TickJob[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ id: string; key: string; status: string }>(
      `SELECT id, "idempotencyKey" AS key, status FROM "Job" WHERE "scheduleId" = $1::uuid`,
      [scheduleId],
    );
    return rows.map((row) => ({ id: row.id, status: row.status, tick: Date.parse(row.key.split(':').slice(2).join(':')) })).sort((a, b) => a.tick - b.tick);
  } finally {
    await client.end();
  }
}

/** Waits until `offsetMs` past the next whole second: the moment the schedulers fire. */
async function untilTick(offsetMs: number): Promise<void> {
  await sleep(1_000 - (Date.now() % 1_000) + offsetMs);
}

/** Ticks after the first that are not one second after the one before. */
const gaps = (ticks: number[]) => ticks.slice(1).flatMap((tick, i) => (tick - ticks[i]! === 1_000 ? [] : [{ after: new Date(ticks[i]!).toISOString(), ms: tick - ticks[i]! }]));

describe.each<Backend>(['bullmq', 'pgboss'])('schedules under process kills on %s', (backend) => {
  const startScenario = scenarioPerTest();

  it('schedulers SIGKILLed at the tick, one at a time, then all at once: one job per tick, none missed while one ran, one for the time all were down', async () => {
    const scenario: Scenario = await startScenario('schedule: processes SIGKILLed at the tick', { backend, env: { SCHEDULER_POLL_MS: '1000' } });
    const client = new RunClient(() => scenario.api.url);
    const created = await client.gql<{ createSchedule: { id: string } }>(
      'mutation { createSchedule(name: "every-second", task: "demo.countWords", input: { text: "tick tock" }, cron: "* * * * * *") { id } }',
    );
    const scheduleId = created.createSchedule.id;
    await waitFor(() => tickJobs(scenario.pg.url, scheduleId), (jobs) => jobs.length >= 3, 30_000, 'the first ticks');

    // One process at a time, a few milliseconds after a tick: the API, then each worker in turn.
    const kills: string[] = [];
    for (let k = 0; k < KILLS; k++) {
      await untilTick(Math.floor(Math.random() * 20));
      if (k % 3 === 2) {
        const exit = await scenario.api.kill('SIGKILL');
        kills.push(`api ${exit.signal}`);
        scenario.api = await scenario.deployment.startApi();
      } else {
        const index = k % 2;
        const exit = await scenario.workers[index]!.kill('SIGKILL');
        kills.push(`worker ${exit.signal}`);
        scenario.workers[index] = await scenario.deployment.startWorker();
      }
    }
    const beforeDown = await tickJobs(scenario.pg.url, scheduleId);

    // Everything down for four seconds, killed at a tick.
    await untilTick(5);
    await Promise.all([scenario.api.kill('SIGKILL'), ...scenario.workers.map((worker) => worker.kill('SIGKILL'))]);
    const downAt = Date.now();
    await sleep(4_000);
    const [api, ...workers] = await Promise.all([scenario.deployment.startApi(), ...scenario.workers.map(() => scenario.deployment.startWorker())]);
    scenario.api = api;
    workers.forEach((worker, i) => (scenario.workers[i] = worker));
    const upAt = Date.now();
    await waitFor(() => tickJobs(scenario.pg.url, scheduleId), (jobs) => jobs.filter((job) => job.tick > upAt).length >= 3, 30_000, 'ticks after the restart');
    await client.gql('mutation($id: ID!) { pauseSchedule(id: $id) { paused } }', { id: scheduleId });
    await sleep(1_500);

    const jobs = await tickJobs(scenario.pg.url, scheduleId);
    const ticks = jobs.map((job) => job.tick);
    const lastBefore = beforeDown.at(-1)!.tick;
    const before = ticks.filter((tick) => tick <= downAt);
    const after = ticks.filter((tick) => tick > downAt);
    const beforeGaps = gaps(before);
    const afterGaps = gaps(after);
    const downGapMs = (after[0] ?? NaN) - (before.at(-1) ?? NaN);
    const finished = await scenario.finish(
      jobs.map((job) => job.id),
      {
        faultEndedAt: upAt,
        notes: [
          `${ticks.length} ticks; ${KILLS} processes SIGKILLed at ticks one at a time (${kills.join(', ')}): ${beforeGaps.length} missed ticks while others ran`,
          `all three down ${((upAt - downAt) / 1_000).toFixed(1)} s (until every process was back): the next job's tick came ${(downGapMs / 1_000).toFixed(0)} s after the last before (catchUp ONCE: one job for the ticks missed)`,
          `no tick twice (${new Set(ticks).size} distinct of ${ticks.length})`,
        ],
      },
    );
    expect(new Set(ticks).size).toBe(ticks.length);
    expect(beforeGaps, 'no tick missed while a process ran').toEqual([]);
    expect(before.at(-1)!).toBeGreaterThanOrEqual(lastBefore);
    // After the outage: the first job is the latest tick due when a scheduler came back, and the
    // schedule goes on a second at a time from it.
    expect(downGapMs).toBeGreaterThan(1_000);
    expect(afterGaps).toEqual([]);
    expect(finished.completed).toBe(jobs.length);
  });
});
