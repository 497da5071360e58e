import { MAX_BUS_MESSAGE, type JobChange } from '../events/messages.ts';
import type { Change } from './ledger/index.ts';

/** The bus messages for the events one ledger statement appended, in seq order. */
export function toJobChanges({ job, events }: Change): JobChange[] {
  return events.map((event) => ({
    jobId: job.id,
    type: job.type,
    phase: job.phase,
    seq: event.seq,
    at: event.at.toISOString(),
    kind: event.kind,
    status: event.status,
    progress: event.progress,
    message:
      event.message && event.message.length > MAX_BUS_MESSAGE
        ? `${event.message.slice(0, MAX_BUS_MESSAGE)}…`
        : event.message,
    attempt: job.attempt,
    createdBy: job.createdBy,
    runId: job.runId,
  }));
}
