import { requireViewer } from '../auth.ts';
import type { QueueInfo } from '../../jobs/system.ts';
import { builder } from './builder.ts';
import { badInput, JobStatusEnum } from './jobs.ts';

type Probe = QueueInfo['probes'][number];
type Worker = QueueInfo['workers'][number];
type JobCount = QueueInfo['jobs'][number];

const ProbeRef = builder.objectRef<Probe>('BackendProbe').implement({
  fields: (t) => ({
    backend: t.string({ resolve: (p) => p.backend.toUpperCase() }),
    ok: t.exposeBoolean('ok'),
    detail: t.exposeString('detail'),
    latencyMs: t.exposeFloat('latencyMs'),
  }),
});

const QueueCountsRef = builder.objectRef<{ waiting: number; delayed: number; active: number }>('QueueCounts').implement({
  description: "What the backend's own queue holds now.",
  fields: (t) => ({ waiting: t.exposeInt('waiting'), delayed: t.exposeInt('delayed'), active: t.exposeInt('active') }),
});

const JobCountRef = builder.objectRef<JobCount>('JobCount').implement({
  fields: (t) => ({
    status: t.expose('status', { type: JobStatusEnum }),
    type: t.exposeString('type'),
    count: t.exposeInt('count'),
  }),
});

const WorkerRef = builder.objectRef<Worker>('WorkerInfo').implement({
  fields: (t) => ({
    id: t.exposeID('id'),
    hostname: t.exposeString('hostname'),
    pid: t.exposeInt('pid'),
    backend: t.exposeString('backend'),
    concurrency: t.exposeInt('concurrency'),
    running: t.exposeInt('running', { description: 'Jobs it holds now (RUNNING or CANCELLING).' }),
    startedAt: t.expose('startedAt', { type: 'DateTime' }),
    heartbeatAt: t.expose('heartbeatAt', { type: 'DateTime' }),
  }),
});

const RetentionRef = builder.objectRef<QueueInfo['retention']>('Retention').implement({
  description: 'How long finished jobs stay in the ledger (JOB_RETENTION, JOB_RETENTION_FAILED; a task may set its own), and what was removed.',
  fields: (t) => ({
    completed: t.exposeString('completed', { description: "COMPLETED and CANCELLED jobs: a period such as '7d', or 'forever'." }),
    failed: t.exposeString('failed', { description: "FAILED jobs: a period such as '30d', or 'forever'." }),
    prunedJobs: t.exposeFloat('prunedJobs', { description: 'Jobs removed by retention since the ledger began (the counts still include them).' }),
    lastPrunedAt: t.expose('lastPrunedAt', { type: 'DateTime', nullable: true }),
    oldestJobAt: t.expose('oldestJobAt', { type: 'DateTime', nullable: true, description: 'When the oldest job kept was created.' }),
  }),
});

interface Bucket {
  start: Date;
  completed: number;
  failed: number;
  cancelled: number;
  /** Run time summed over the bucket's jobs, for the average. */
  durationMs: number;
}

const ThroughputBucketRef = builder.objectRef<Bucket>('ThroughputBucket').implement({
  description: 'Jobs that ended in one minute, by outcome (jobs since removed by retention included).',
  fields: (t) => ({
    start: t.expose('start', { type: 'DateTime' }),
    completed: t.exposeInt('completed'),
    failed: t.exposeInt('failed'),
    cancelled: t.exposeInt('cancelled'),
    averageDurationMs: t.float({
      nullable: true,
      description: 'Mean run time (start to end) of the jobs that ended in the minute.',
      resolve: (b) => {
        const n = b.completed + b.failed + b.cancelled;
        return n > 0 ? b.durationMs / n : null;
      },
    }),
  }),
});

const QueueInfoRef = builder.objectRef<QueueInfo>('QueueInfo').implement({
  fields: (t) => ({
    backend: t.string({ description: 'The backend chosen at startup, as Job.backend names it (BULLMQ, PGBOSS, RABBITMQ or INLINE).', resolve: (i) => i.backend.toUpperCase() }),
    reason: t.exposeString('reason', { description: 'Why this backend: the setting, or what auto skipped.' }),
    queueName: t.exposeString('queueName', {
      description: "The backend's queue: QUEUE_NAME with this ledger's identity (BullMQ keys are jobgraph:<queueName>:…).",
    }),
    probes: t.field({ type: [ProbeRef], resolve: (i) => i.probes }),
    healthy: t.boolean({ description: 'The chosen backend answers now.', resolve: (i) => i.dispatcher.primaryHealthy }),
    usingFallback: t.boolean({
      description: 'Jobs run on the in-process fallback while the chosen backend is down.',
      resolve: (i) => i.dispatcher.usingFallback,
    }),
    eventBus: t.string({ description: 'redis, postgres or memory.', resolve: (i) => i.eventBus }),
    ledger: t.string({ description: 'postgres (DATABASE_URL); embedded (the PostgreSQL that `npm start` runs in EMBEDDED_DIR).', resolve: (i) => i.ledger }),
    queue: t.field({ type: QueueCountsRef, nullable: true, resolve: (i) => ('error' in i.queue ? null : i.queue) }),
    jobCounts: t.field({ type: [JobCountRef], description: 'Jobs per status and task: waiting and running ones now, and every job that ended so (those removed by retention included).', resolve: (i) => i.jobs }),
    workers: t.field({ type: [WorkerRef], description: 'Workers with a recent heartbeat.', resolve: (i) => i.workers }),
    retention: t.field({ type: RetentionRef, resolve: (i) => i.retention }),
  }),
});

builder.queryFields((t) => ({
  queueInfo: t.field({
    type: QueueInfoRef,
    resolve: (_, __, ctx) => {
      requireViewer(ctx.viewer);
      return ctx.system.queueInfo();
    },
  }),
}));

const MAX_THROUGHPUT_MINUTES = 120;

builder.queryFields((t) => ({
  throughput: t.field({
    type: [ThroughputBucketRef],
    description: `Jobs that ended per minute over the last \`minutes\` (at most ${MAX_THROUGHPUT_MINUTES}), oldest first; minutes with none are left out.`,
    args: { minutes: t.arg.int({ required: false, defaultValue: 60 }) },
    resolve: async (_, args, ctx) => {
      requireViewer(ctx.viewer);
      const minutes = args.minutes ?? 60;
      if (!Number.isInteger(minutes) || minutes < 1 || minutes > MAX_THROUGHPUT_MINUTES) {
        throw badInput(`minutes must be between 1 and ${MAX_THROUGHPUT_MINUTES}`, ['minutes']);
      }
      const buckets = new Map<number, Bucket>();
      for (const row of await ctx.system.throughput(minutes)) {
        const start = new Date(row.start);
        const bucket = buckets.get(start.getTime()) ?? { start, completed: 0, failed: 0, cancelled: 0, durationMs: 0 };
        buckets.set(start.getTime(), bucket);
        if (row.status === 'COMPLETED') bucket.completed += row.ended;
        else if (row.status === 'FAILED') bucket.failed += row.ended;
        else if (row.status === 'CANCELLED') bucket.cancelled += row.ended;
        bucket.durationMs += row.durationMs;
      }
      return [...buckets.values()];
    },
  }),
}));
