/**
 * The body of a worker process's heartbeat thread (see heartbeat-thread.ts): it writes the
 * heartbeats of the jobs its process runs, on a connection of its own, so a handler that blocks
 * the process's event loop cannot starve them; and it is the watchdog of that event loop: when
 * the loop is blocked and a job it runs is past its timeout or being cancelled, it kills the
 * process, since nothing else can stop a handler that does not yield.
 */
import { parentPort, workerData } from 'node:worker_threads';
import pg from 'pg';
import type { JobStatus } from '../generated/prisma/enums.ts';
import { Liveness } from './ledger/liveness.ts';
import type { LedgerContext } from './ledger/sql.ts';
import type { BeatReport, HeartbeatSetup, ToHeartbeat } from './heartbeat-thread.ts';

const setup = workerData as HeartbeatSetup;
const port = parentPort!;
const pool = new pg.Pool({ connectionString: setup.url, max: 1, connectionTimeoutMillis: 5_000, application_name: setup.applicationName });
pool.on('error', () => {}); // a dropped idle connection is reconnected by the next beat
const query = async <T>(text: string, values: unknown[] = [], name?: string): Promise<T[]> =>
  (await pool.query(name ? { name, text, values } : { text, values })).rows as T[];
const liveness = new Liveness({ db: { query }, after: async (change: unknown) => change } as unknown as LedgerContext);

/** The jobs the process runs, with the time after which a blocked loop means a stuck handler. */
let jobs = new Map<string, number | null>();
let lastTick = Date.now();
const cancellingSince = new Map<string, number>();

port.on('message', (message: ToHeartbeat) => {
  lastTick = Date.now();
  if (message.type === 'jobs') jobs = new Map(message.jobs);
  if (message.type === 'stop') {
    clearInterval(timer);
    void pool.end().finally(() => port.close());
  }
});

let beating = false;
const timer = setInterval(() => {
  if (beating) return;
  beating = true;
  void beat().finally(() => (beating = false));
}, setup.intervalMs);

async function beat(): Promise<void> {
  const asked = [...jobs.keys()];
  let held: Map<string, JobStatus>;
  try {
    held = await liveness.heartbeat(setup.workerId, asked);
  } catch (error) {
    port.postMessage({ type: 'failed', message: error instanceof Error ? error.message : String(error) } satisfies BeatReport);
    return;
  }
  port.postMessage({ type: 'held', asked, held: [...held] } satisfies BeatReport);
  watch(asked, held);
}

function watch(asked: string[], held: Map<string, JobStatus>): void {
  const now = Date.now();
  for (const id of cancellingSince.keys()) if (held.get(id) !== 'CANCELLING') cancellingSince.delete(id);
  for (const id of asked) if (held.get(id) === 'CANCELLING' && !cancellingSince.has(id)) cancellingSince.set(id, now);
  const blockedMs = now - lastTick;
  if (!setup.killWhenStuck || blockedMs < setup.blockedAfterMs) return;
  const stuck = asked.find((id) => {
    if (!jobs.has(id)) return false;
    const deadline = jobs.get(id);
    if (deadline !== null && deadline !== undefined && now > deadline) return true;
    const cancelling = cancellingSince.get(id);
    return cancelling !== undefined && now - cancelling > setup.graceMs;
  });
  if (stuck === undefined) return;
  const reason = cancellingSince.has(stuck) ? 'cancelled' : 'past its timeout';
  // The loop cannot hear this; stderr is the one voice left. The supervisor starts the process
  // again, and the reaper settles the job (cancelled, or retried with the attempt counted).
  process.stderr.write(
    `${JSON.stringify({ level: 60, time: now, pid: process.pid, workerId: setup.workerId, jobId: stuck, blockedMs, msg: `event loop blocked ${blockedMs} ms by a handler ${reason}: killing this worker process` })}\n`,
  );
  process.kill(process.pid, 'SIGKILL');
}
