import { requireViewer } from '../auth.ts';
import type { QueueInfo } from '../../jobs/system.ts';
import { builder } from './builder.ts';
import { JobStatusEnum } from './jobs.ts';

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
    ledger: t.string({ description: 'postgres; pglite (in the API process, tests); embedded (PGlite in the ledger process of `npm start`).', resolve: (i) => i.ledger }),
    queue: t.field({ type: QueueCountsRef, nullable: true, resolve: (i) => ('error' in i.queue ? null : i.queue) }),
    jobCounts: t.field({ type: [JobCountRef], description: 'Jobs in the ledger per status and task.', resolve: (i) => i.jobs }),
    workers: t.field({ type: [WorkerRef], description: 'Workers with a recent heartbeat.', resolve: (i) => i.workers }),
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
