/**
 * What the job system's spans say about a job, and where they hang: every span about a job
 * continues the trace of the span that enqueued it (Job.traceparent, written with the job), in
 * whichever process dispatches or runs it and whatever queue carried its id. The spans themselves
 * are lib/tracing.ts's: no-ops unless the OTEL_* variables turned traces on (lib/telemetry.ts).
 *
 *   jobgraph.enqueue <task>     (API)    ── the job's traceparent names this span
 *   ├─ jobgraph.ledger.createJob         the insert, and the after-write step that follows it
 *   ├─ jobgraph.dispatch <task>  (any)   each hand-over to a queue, a sweep's re-send too
 *   ├─ jobgraph.claim <task>     (worker) each delivery's claim in the ledger
 *   └─ jobgraph.run <task>       (worker) the handler and its outcome, once per attempt
 *      └─ chat <model>                    each LLM call the handler makes (src/domain/llm)
 */
import type { Job } from './ledger/index.ts';
import { contextFromTraceparent, type Attributes, type Context } from '../lib/tracing.ts';

/** The attributes every span about a job carries (low-cardinality names, the job's id as a value). */
export function jobAttributes(job: Pick<Job, 'id' | 'type' | 'attempt' | 'backend' | 'runId' | 'step'>): Attributes {
  return {
    'jobgraph.job.id': job.id,
    'jobgraph.task': job.type,
    'jobgraph.attempt': job.attempt,
    'messaging.system': job.backend.toLowerCase(),
    'messaging.message.id': job.id,
    ...(job.runId ? { 'jobgraph.run.id': job.runId } : {}),
    ...(job.step ? { 'jobgraph.step': job.step } : {}),
  };
}

/** The context a job's spans are children of: the span that enqueued it, from its stored traceparent (the root context without one). */
export function jobTraceContext(job: Pick<Job, 'traceparent'>): Context {
  return contextFromTraceparent(job.traceparent);
}

/** An enqueue span's attributes before the job is written (its id is added once it is). */
export function enqueueAttributes(task: string): Attributes {
  return { 'jobgraph.task': task, 'messaging.operation.type': 'create', 'messaging.operation.name': 'enqueue' };
}
