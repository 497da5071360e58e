/**
 * GET /metrics in Prometheus's text format, from one prom-client registry per createMetrics (not
 * the global one: tests make several in one process). Three kinds of series:
 *
 *   what THIS process did   counters and histograms from its own ledger writes
 *                           (JobService.onLocalChange): sum them over processes
 *   what the ledger holds   gauges read at scrape time (jobs per status, live workers): the same in
 *                           every process, so take one (max), never the sum
 *   this process's view     its backend, its fallback, whether it could read the ledger, its
 *                           GraphQL operations (yoga's Prometheus plugin) and Node's process metrics
 *
 * Under `npm start` the worker process the API supervises serves no port: the API's scrape asks it
 * over IPC (supervisedMetrics here, answerMetricsRequests in the worker) and adds its counters and
 * histograms to the API's own (summed per label set, so one series per task and status as before),
 * and its process metrics labelled process="worker". The ledger gauges come from the API's read
 * alone: the worker reads the same ledger. A worker that does not answer within CHILD_WAIT_MS
 * (restarting, or its event loop held by a job) costs the scrape no more than that: its last answer
 * is served instead, and a restarted worker's counts are added to those of the ones before it, so
 * the summed counters never go down while `npm start` runs.
 *
 * ops/prometheus holds alert rules over these series and ops/grafana a dashboard (README, Prometheus).
 */
import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { usePrometheus } from '@graphql-yoga/plugin-prometheus';
import type { Plugin } from 'graphql-yoga';
import { AggregatorRegistry, collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Config } from '../config.ts';
import type { Change, Job, JobEvent } from '../jobs/ledger/index.ts';
import type { JobService } from '../jobs/service.ts';
import { ACTIVE_STATUSES, TERMINAL_STATUSES } from '../jobs/states.ts';
import type { Logger } from '../lib/logger.ts';
import { answerParent } from '../lib/supervisor.ts';
import { withTimeout } from '../lib/timeouts.ts';

export const METRICS_PATH = '/metrics';

/** A registry's series as getMetricsAsJSON gives them: what travels from a child to its parent. */
export type MetricsJSON = Awaited<ReturnType<Registry['getMetricsAsJSON']>>;

/** What a supervised child's metrics answer its parent's scrape (answerMetricsRequests). */
export interface MetricsReport {
  /** This process's registry, once: a restarted child has another, whose counts start from 0. */
  incarnation: string;
  /** What this process did (counters and histograms): summed into the parent's series. */
  counted: MetricsJSON;
  /** Its process metrics (process_*, nodejs_*): the parent serves them labelled process="<child>". */
  process: MetricsJSON;
}

/** Where createMetrics takes more series for a scrape than its own process's. */
export interface MetricsSources {
  /**
   * Series of supervised children (see supervisedMetrics), merged into each scrape: summed with this
   * process's where name and labels meet. Bounded and never rejecting by contract; a rejection
   * leaves them out of that scrape.
   */
  children?: () => Promise<MetricsJSON[]>;
}

export interface Metrics {
  readonly registry: Registry;
  /** The Content-Type of a scrape. */
  readonly contentType: string;
  /**
   * Serves a scrape (GET or HEAD); 401 without `Authorization: Bearer <METRICS_TOKEN>` when that is
   * set. Never rejects: a failed collection answers 500.
   */
  handle(req: IncomingMessage, res: ServerResponse): Promise<void>;
  /** Yoga's Prometheus plugin on this registry (createApi adds it when given these metrics). */
  readonly yogaPlugin: Plugin;
  /** The text a scrape serves: this registry's series, and the children's when given. */
  exposition(): Promise<string>;
  /** What a parent's scrape takes of this process (answerMetricsRequests): reads no ledger. */
  report(): Promise<MetricsReport>;
  /** Stops counting this process's writes. Idempotent. */
  close(): void;
}

// Jobs take milliseconds (a word count) to an hour (a profiling run); waits, up to a retry's delay.
const SECONDS_BUCKETS = [0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600];
/** A scrape never waits longer than this for the ledger (Prometheus gives up after 10 s). */
const SNAPSHOT_TIMEOUT_MS = 5_000;
/** How long a scrape waits for a supervised child's answer before serving its last one. */
export const CHILD_WAIT_MS = 100;
/** How long a request to a child stays open: an answer later than CHILD_WAIT_MS serves the next scrape. */
const CHILD_ANSWER_MS = 10_000;
/** The request a supervised child's metrics answer (answerMetricsRequests). */
const METRICS_REQUEST = 'metrics';

/** One per process: collectDefaultMetrics starts observers that live as long as the process. */
export function createMetrics(system: JobService, config: Pick<Config, 'METRICS_TOKEN'>, logger: Logger, sources: MetricsSources = {}): Metrics {
  const log = logger.child({ component: 'metrics' });
  const registry = new Registry();
  const registers = [registry];
  collectDefaultMetrics({ register: registry });
  // Node's and the process's, registered above: what a report gives of this process besides its counts.
  const processMetrics = registry.getMetricsAsArray().map((metric) => registry.getSingleMetric(metric.name)!);
  const incarnation = `${process.pid}:${randomUUID()}`;

  // ── what this process did ──
  const enqueued = new Counter({
    name: 'jobgraph_jobs_enqueued_total',
    help: 'Jobs this process recorded, by task and the backend chosen for them.',
    labelNames: ['task', 'backend'] as const,
    registers,
  });
  const finished = new Counter({
    name: 'jobgraph_jobs_finished_total',
    help: 'Jobs this process moved to a terminal status (COMPLETED, FAILED, CANCELLED).',
    labelNames: ['task', 'status'] as const,
    registers,
  });
  const retries = new Counter({
    name: 'jobgraph_job_retries_total',
    help: 'Failed attempts this process scheduled for a retry, by the error code of the attempt.',
    labelNames: ['task', 'reason'] as const,
    registers,
  });
  const duration = new Histogram({
    name: 'jobgraph_job_duration_seconds',
    help: 'From a job\'s first start to its end, for jobs that ended in this process (retries included).',
    labelNames: ['task', 'status'] as const,
    buckets: SECONDS_BUCKETS,
    registers,
  });
  const wait = new Histogram({
    name: 'jobgraph_job_wait_seconds',
    help: 'From when a job was due (created, or its retry due) to a worker of this process claiming it.',
    labelNames: ['task'] as const,
    buckets: SECONDS_BUCKETS,
    registers,
  });

  const record = ({ job, events }: Change): void => {
    const task = job.type;
    for (const event of events) {
      if (event.kind === 'ATTEMPT') retries.inc({ task, reason: reasonOf(event, job) });
      if (event.kind !== 'STATUS') continue;
      switch (event.status) {
        case 'QUEUED':
          // seq 1 is the creation; a later QUEUED is a retry or a hand-back of the same job.
          if (event.seq === 1) enqueued.inc({ task, backend: job.backend.toLowerCase() });
          break;
        case 'RUNNING':
          // The claim's own time: startedAt keeps the first attempt's.
          wait.observe({ task }, secondsBetween(dueAt(job), event.at));
          break;
        case 'COMPLETED':
        case 'FAILED':
        case 'CANCELLED':
          finished.inc({ task, status: event.status });
          // A job cancelled while waiting never started: no duration.
          if (job.startedAt && job.finishedAt) duration.observe({ task, status: event.status }, secondsBetween(job.startedAt, job.finishedAt));
          break;
        case 'RETRYING':
        case 'CANCELLING':
          break;
        default: {
          const unknown: never = event.status;
          throw new Error(`unknown job status ${String(unknown)}`);
        }
      }
    }
  };
  const stopListening = system.onLocalChange(record);
  const gateWait = new Histogram({
    name: 'jobgraph_gate_wait_seconds',
    help: 'From a sign-off gate opening to its decision, for gates decided through this process.',
    labelNames: ['workflow', 'step', 'decision'] as const,
    buckets: [60, 300, 900, 3600, 4 * 3600, 24 * 3600, 3 * 24 * 3600, 7 * 24 * 3600],
    registers,
  });
  const stopDecisions = system.runs.onDecision((d) => gateWait.observe({ workflow: d.workflow, step: d.step, decision: d.decision }, d.waitedMs / 1000));

  // ── what the ledger holds, and this process's view of its backend ──
  // Each gauge's collect() runs in the same scrape: they share one read of queueInfo() and the
  // oldest waiting jobs, which jobgraph_ledger_up reports on.
  const ledgerRead = sharedRead(async () => {
    const [info, waiting] = await Promise.all([system.queueInfo(), system.oldestWaiting()]);
    return { info, waiting };
  }, 'the ledger', log);
  const snapshot = async () => (await ledgerRead())?.info;

  const ledgerUp: Gauge = new Gauge({
    name: 'jobgraph_ledger_up',
    help: `Whether this process read the ledger for this scrape (1) or not (0: it failed, or gave no answer within ${SNAPSHOT_TIMEOUT_MS / 1000} s); the gauges read from the ledger are left out when 0.`,
    registers,
    async collect() {
      ledgerUp.set((await ledgerRead()) ? 1 : 0);
    },
  });
  const oldestWaiting: Gauge<'task'> = new Gauge({
    name: 'jobgraph_oldest_waiting_job_age_seconds',
    help: "Per task, how long its oldest waiting job has been due (created, its delay or its retry's wait over) without a worker claiming it, read at scrape time (the same in every process); 0 when none is due.",
    labelNames: ['task'] as const,
    registers,
    async collect() {
      const read = await ledgerRead();
      oldestWaiting.reset();
      if (!read) return;
      // Every task this process knows, 0 included, so a series does not vanish when its queue empties.
      const byTask = new Map(system.tasks.list().map((task) => [task.name, 0]));
      for (const row of read.waiting) byTask.set(row.type, Math.max(0, row.seconds));
      for (const [task, seconds] of byTask) oldestWaiting.set({ task }, seconds);
    },
  });

  const jobs: Gauge<'status'> = new Gauge({
    name: 'jobgraph_jobs',
    help: 'Jobs per status, read at scrape time (the same in every process): waiting and running jobs now; for COMPLETED, FAILED and CANCELLED every job that ended so, those removed by retention included.',
    labelNames: ['status'] as const,
    registers,
    async collect() {
      const info = await snapshot();
      jobs.reset();
      if (!info) return;
      // Every status, zero included, so a series does not vanish when its last job moves on.
      const byStatus = new Map<string, number>([...ACTIVE_STATUSES, ...TERMINAL_STATUSES].map((status) => [status, 0]));
      for (const row of info.jobs) byStatus.set(row.status, (byStatus.get(row.status) ?? 0) + row.count);
      for (const [status, count] of byStatus) jobs.set({ status }, count);
    },
  });
  const pruned: Gauge = new Gauge({
    name: 'jobgraph_retention_pruned_jobs',
    help: 'Finished jobs removed by retention (JOB_RETENTION) since the ledger began, read at scrape time (the same in every process).',
    registers,
    async collect() {
      setOrLeaveOut(pruned, (await snapshot())?.retention.prunedJobs);
    },
  });
  const oldest: Gauge = new Gauge({
    name: 'jobgraph_retention_oldest_job_age_seconds',
    help: 'Age of the oldest job kept in the ledger, read at scrape time; 0 while the ledger holds none.',
    registers,
    async collect() {
      const info = await snapshot();
      const at = info?.retention.oldestJobAt;
      setOrLeaveOut(oldest, info && (at ? (Date.now() - new Date(at).getTime()) / 1000 : 0));
    },
  });
  // Runs: a read of their own (not every scrape of every process needs queueInfo's), shared by both gauges.
  const runSnapshot = sharedRead(() => system.runs.summary(), 'runs', log);
  const runs: Gauge<'workflow' | 'status'> = new Gauge({
    name: 'jobgraph_runs',
    help: 'Workflow runs per workflow and status, read at scrape time (the same in every process): started = the sum over statuses, finished = COMPLETED + FAILED + CANCELLED.',
    labelNames: ['workflow', 'status'] as const,
    registers,
    async collect() {
      const summary = await runSnapshot();
      runs.reset();
      for (const row of summary?.runs ?? []) runs.set({ workflow: row.workflow, status: row.status }, row.count);
    },
  });
  const gatesOpen: Gauge = new Gauge({
    name: 'jobgraph_gates_open',
    help: 'Sign-off gates waiting for a decision now, read at scrape time (the same in every process).',
    registers,
    async collect() {
      setOrLeaveOut(gatesOpen, (await runSnapshot())?.openGates);
    },
  });
  const gateOldest: Gauge = new Gauge({
    name: 'jobgraph_gate_oldest_wait_seconds',
    help: 'How long the oldest open sign-off gate has waited, read at scrape time; 0 while none is open.',
    registers,
    async collect() {
      const summary = await runSnapshot();
      setOrLeaveOut(gateOldest, summary && (summary.oldestOpenGateSeconds ?? 0));
    },
  });
  // Shared limits: one read of their state per scrape, shared by the gauges.
  const limitSnapshot = sharedRead(() => system.limits.states(), 'limits', log);
  const limitBudget: Gauge<'limit' | 'kind'> = new Gauge({
    name: 'jobgraph_limit_budget',
    help: 'What each shared limit allows: requests and tokens per window, concurrency at once; absent when unbounded.',
    labelNames: ['limit', 'kind'] as const,
    registers,
    async collect() {
      const states = await limitSnapshot();
      limitBudget.reset();
      for (const { limit } of states ?? []) {
        if (limit.requests) limitBudget.set({ limit: limit.name, kind: 'requests' }, limit.requests.count);
        if (limit.tokens) limitBudget.set({ limit: limit.name, kind: 'tokens' }, limit.tokens.count);
        if (limit.concurrency) limitBudget.set({ limit: limit.name, kind: 'concurrency' }, limit.concurrency);
      }
    },
  });
  const limitUsed: Gauge<'limit' | 'kind'> = new Gauge({
    name: 'jobgraph_limit_used',
    help: 'What is taken of each shared limit now, in every process: requests and tokens in the last window, concurrency slots held.',
    labelNames: ['limit', 'kind'] as const,
    registers,
    async collect() {
      const states = await limitSnapshot();
      limitUsed.reset();
      for (const state of states ?? []) {
        limitUsed.set({ limit: state.name, kind: 'requests' }, state.requests);
        limitUsed.set({ limit: state.name, kind: 'tokens' }, state.tokens);
        limitUsed.set({ limit: state.name, kind: 'concurrency' }, state.held);
      }
    },
  });
  const limitWaiting: Gauge<'limit'> = new Gauge({
    name: 'jobgraph_limit_waiting',
    help: 'Takes waiting on each shared limit now, in every process.',
    labelNames: ['limit'] as const,
    registers,
    async collect() {
      const states = await limitSnapshot();
      limitWaiting.reset();
      for (const state of states ?? []) limitWaiting.set({ limit: state.name }, state.waiting);
    },
  });
  const limitPaused: Gauge<'limit'> = new Gauge({
    name: 'jobgraph_limit_paused_seconds',
    help: "Seconds left of each shared limit's pause (a provider's Retry-After); 0 when not paused.",
    labelNames: ['limit'] as const,
    registers,
    async collect() {
      const states = await limitSnapshot();
      limitPaused.reset();
      for (const state of states ?? []) limitPaused.set({ limit: state.name }, state.pausedUntil ? Math.max(0, (state.pausedUntil.getTime() - Date.now()) / 1000) : 0);
    },
  });
  const limitWait = new Histogram({
    name: 'jobgraph_limit_wait_seconds',
    help: 'How long takes of this process waited on a shared limit before it granted them, by the last reason (paused, concurrency, requests, tokens).',
    labelNames: ['limit', 'why'] as const,
    buckets: [0.1, 0.5, 1, 5, 15, 30, 60, 120, 300],
    registers,
  });
  const stopLimitWaits = system.limits.onWait((limit, seconds, why) => limitWait.observe({ limit, why }, seconds));
  // What this process did, and only that: summed over processes (a parent adds them to its own).
  const counted = [enqueued, finished, retries, duration, wait, gateWait, limitWait];
  const workers: Gauge = new Gauge({
    name: 'jobgraph_workers',
    help: 'Workers heartbeating in the ledger, read at scrape time (the same in every process).',
    registers,
    async collect() {
      setOrLeaveOut(workers, (await snapshot())?.workers.length);
    },
  });
  const backendUp: Gauge<'backend'> = new Gauge({
    name: 'jobgraph_backend_up',
    help: 'Whether the queue backend this process sends jobs to answers its probe (1) or not (0).',
    labelNames: ['backend'] as const,
    registers,
    async collect() {
      const info = await snapshot();
      backendUp.reset();
      // A process that sends to no queue (no worker, in-process backend) has nothing to report.
      if (info?.dispatcher.primary) backendUp.set({ backend: info.backend }, info.dispatcher.primaryHealthy ? 1 : 0);
    },
  });
  const fallback: Gauge = new Gauge({
    name: 'jobgraph_fallback_active',
    help: 'Whether this process sends jobs to its in-process fallback queue, its backend being down (1) or not (0).',
    registers,
    async collect() {
      const info = await snapshot();
      setOrLeaveOut(fallback, info && (info.dispatcher.usingFallback ? 1 : 0));
    },
  });

  const yogaPlugin = usePrometheus({
    registry,
    // Served by handle() below, behind METRICS_TOKEN, not by yoga on whatever path reaches it.
    endpoint: false,
    // Low cardinality: a URL carries GET queries, an error path list indexes.
    labels: { url: false, path: false },
  });

  const expected = config.METRICS_TOKEN === undefined ? undefined : digest(`Bearer ${config.METRICS_TOKEN}`);
  const authorized = (header: string | undefined): boolean => {
    if (!expected) return true;
    // Digests have one length, so the comparison takes the same time whatever was sent.
    return header !== undefined && timingSafeEqual(digest(header.trim().replace(/^bearer\s+/i, 'Bearer ')), expected);
  };

  const { children } = sources;
  const exposition = async (): Promise<string> => {
    if (!children) return registry.metrics();
    const [own, theirs] = await Promise.all([
      registry.getMetricsAsJSON(),
      children().catch((error: unknown) => {
        log.warn({ err: error }, 'metrics: the supervised processes\' series could not be read; left out of this scrape');
        return [];
      }),
    ]);
    return sumSeries([own, ...theirs]).metrics();
  };

  return {
    registry,
    contentType: registry.contentType,
    yogaPlugin,
    exposition,
    async report() {
      const [own, proc] = await Promise.all([Promise.all(counted.map((metric) => metric.get())), Promise.all(processMetrics.map((metric) => metric.get()))]);
      return { incarnation, counted: own as MetricsJSON, process: proc as MetricsJSON };
    },
    async handle(req, res) {
      try {
        if (req.method !== 'GET' && req.method !== 'HEAD') {
          res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('GET /metrics\n');
          return;
        }
        if (!authorized(req.headers.authorization)) {
          res.writeHead(401, { 'www-authenticate': 'Bearer realm="metrics"', 'content-type': 'text/plain' }).end('/metrics needs Authorization: Bearer <METRICS_TOKEN>\n');
          return;
        }
        const body = await exposition();
        res.writeHead(200, { 'content-type': registry.contentType });
        res.end(req.method === 'HEAD' ? undefined : body);
      } catch (error) {
        log.error({ err: error }, 'metrics: a scrape failed');
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
        res.end('metrics could not be collected\n');
      }
    },
    close: () => {
      stopListening();
      stopDecisions();
      stopLimitWaits();
    },
  };
}

/**
 * In a supervised child (src/worker.ts under `npm start`): answers the parent's scrapes with this
 * process's report. Returns the function that stops answering.
 */
export function answerMetricsRequests(metrics: Pick<Metrics, 'report'>): () => void {
  return answerParent(METRICS_REQUEST, () => metrics.report());
}

/** A supervised child as supervisedMetrics asks it: SupervisedProcess. */
export interface MetricsChild {
  readonly name: string;
  request(message: { type: string }, timeoutMs: number): Promise<unknown>;
}

/**
 * createMetrics's `children` for the processes this one supervises (`children()` at each scrape,
 * those running answerMetricsRequests): each is asked at once, and a scrape waits at most `waitMs`
 * for them all. One request per child at a time: an answer that comes later serves the next scrape,
 * and a child that gave none (restarting, its event loop held) is served by its last answer's
 * counts, never by fewer. A new process of the same child (a restart: its incarnation changed)
 * counts from 0: the counts of the ones before are kept and added to its own. Its process metrics
 * are served only from an answer of this scrape, labelled process="<name>".
 */
export function supervisedMetrics(children: () => readonly MetricsChild[], { waitMs = CHILD_WAIT_MS }: { waitMs?: number } = {}): () => Promise<MetricsJSON[]> {
  interface Seen {
    /** The counts of its processes that ended, summed. */
    carried: MetricsJSON[];
    last?: MetricsReport;
    answers: number;
    asking?: Promise<void>;
  }
  const seen = new WeakMap<MetricsChild, Seen>();
  const ask = (child: MetricsChild, state: Seen): Promise<void> =>
    (state.asking ??= child
      .request({ type: METRICS_REQUEST }, CHILD_ANSWER_MS)
      .then(async (answer) => {
        if (!isReport(answer)) return;
        if (state.last && state.last.incarnation !== answer.incarnation) {
          state.carried = [await sumSeries([...state.carried, state.last.counted]).getMetricsAsJSON()];
        }
        state.last = answer;
        state.answers++;
      })
      .finally(() => {
        state.asking = undefined;
      }));

  return async () => {
    const asked = children().map((child) => {
      let state = seen.get(child);
      if (!state) seen.set(child, (state = { carried: [], answers: 0 }));
      return { child, state, before: state.answers, answered: ask(child, state) };
    });
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(asked.map((a) => a.answered)),
      new Promise((resolve) => (timer = setTimeout(resolve, waitMs))),
    ]).finally(() => clearTimeout(timer));
    return asked.flatMap(({ child, state, before }) => {
      if (!state.last) return [];
      const fresh = state.answers > before;
      return [...state.carried, state.last.counted, ...(fresh ? [labelled(state.last.process, { process: child.name })] : [])];
    });
  };
}

function isReport(value: unknown): value is MetricsReport {
  const report = value as MetricsReport | undefined;
  return typeof report?.incarnation === 'string' && Array.isArray(report.counted) && Array.isArray(report.process);
}

/** `series` with `labels` added to every value. */
function labelled(series: MetricsJSON, labels: Record<string, string>): MetricsJSON {
  return series.map((metric) => ({ ...metric, values: metric.values.map((value) => ({ ...value, labels: { ...value.labels, ...labels } })) }));
}

/**
 * One registry of `lists`' series, each value the sum of those with its name and labels
 * (prom-client's cluster aggregation, told to sum every metric: the lists never share a gauge's
 * labels, so the sum only meets counters and histograms of several processes).
 */
function sumSeries(lists: MetricsJSON[]): Registry {
  return AggregatorRegistry.aggregate(lists.map((list) => list.map((metric) => ({ ...metric, aggregator: 'sum' as const }))));
}

/**
 * A read the gauges of one scrape share: the first collect() starts it, the others await the same
 * promise, and the next scrape reads again. Bounded by SNAPSHOT_TIMEOUT_MS; a failed read leaves
 * its gauges out of the scrape (logged) instead of failing it.
 */
function sharedRead<T>(read: () => Promise<T>, what: string, log: Logger): () => Promise<T | undefined> {
  let pending: Promise<T | undefined> | undefined;
  return () =>
    (pending ??= withTimeout(read(), SNAPSHOT_TIMEOUT_MS, `reading ${what} for /metrics`)
      .catch((error: unknown) => {
        log.warn({ err: error }, `metrics: ${what} could not be read; their gauges are left out of this scrape`);
        return undefined;
      })
      .finally(() => {
        pending = undefined;
      }));
}

/**
 * Sets an unlabelled gauge read at scrape time, or leaves it out of the scrape when its read
 * failed (undefined): prom-client's reset() keeps an unlabelled gauge at 0, and jobgraph_workers 0
 * would say "no workers" (an alert) where the truth is "not known" (jobgraph_ledger_up 0).
 */
function setOrLeaveOut(gauge: Gauge, value: number | undefined): void {
  gauge.reset();
  if (value === undefined) gauge.remove();
  else gauge.set(value);
}

/** The error code of a failed attempt: its ATTEMPT event's, else the job's. */
function reasonOf(event: JobEvent, job: Job): string {
  const data = event.data as { error?: { code?: unknown } } | null;
  const code = data?.error?.code;
  return typeof code === 'string' ? code : (job.errorCode ?? 'UNKNOWN');
}

/** When a waiting job became due: created (runAt then = createdAt + delay), retried or handed back (runAt). */
function dueAt(job: Job): Date {
  return job.runAt > job.createdAt ? job.runAt : job.createdAt;
}

function secondsBetween(from: Date, to: Date): number {
  // A claim may come up to a few ms before runAt (the claim's tolerance): no negative waits.
  return Math.max(0, (to.getTime() - from.getTime()) / 1000);
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}
