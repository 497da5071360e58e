import { useState } from 'preact/hooks';
import { CANCELLABLE, RETRYABLE, TERMINAL, type JobDetail as Job, type JobEvent } from '../../api/operations.ts';
import { formatClock, formatDateTime } from '../../format.ts';
import { useJob } from '../../hooks/useJob.ts';
import { useJobActions } from '../../hooks/useJobActions.ts';
import { useJobEvents } from '../../hooks/useJobEvents.ts';
import { useViewer } from '../../hooks/useViewer.ts';
import { JsonView } from '../JsonView/JsonView.tsx';
import { Link } from '../Link/Link.tsx';
import { ProgressBar } from '../ProgressBar/ProgressBar.tsx';
import { StatusBadge } from '../StatusBadge/StatusBadge.tsx';
import styles from './JobDetail.module.css';

/** One job, live: status, progress, attempts and why, the event timeline, input, result, error. */
export function JobDetail({ id }: { id: string }) {
  const { job, error, update, round } = useJob(id);
  const { events } = useJobEvents(id, round);

  if (job === null) {
    return (
      <section class="panel">
        <h2>No such job</h2>
        <p>
          There is no job <code>{id}</code>, or it is not one of yours. <Link to="/jobs">All jobs</Link>
        </p>
      </section>
    );
  }
  if (job === undefined) return <p role={error ? 'alert' : 'status'}>{error ? `Cannot read the job: ${error.message}` : 'Loading…'}</p>;

  return (
    <div>
      <section class="panel" aria-labelledby="job-title">
        <div class={styles.head}>
          <h2 id="job-title">{job.type}</h2>
          <StatusBadge status={job.status} />
          <code class={styles.id}>{job.id}</code>
          <Actions job={job} onJob={update} />
        </div>
        <div class={styles.progress}>
          <ProgressBar value={job.progress} status={job.status} label="Job progress" />
        </div>
        {job.message && <p>{job.message}</p>}
        {error && <p role="alert">Live updates stopped: {error.message}</p>}
      </section>

      <div class={styles.columns}>
        <section class="panel" aria-labelledby="facts-title">
          <h2 id="facts-title">Details</h2>
          <dl class="facts">
            <dt>Phase</dt>
            <dd>{job.phase}</dd>
            <dt>Backend</dt>
            <dd>{job.backend}</dd>
            <dt>Attempt</dt>
            <dd>
              {job.attempt} of {job.maxAttempts}
            </dd>
            <dt>Priority</dt>
            <dd>{job.priority}</dd>
            <dt>Created by</dt>
            <dd>{job.createdBy ?? '—'}</dd>
            {job.concurrencyKey !== null && (
              <>
                <dt>Concurrency key</dt>
                <dd>
                  <code>{job.concurrencyKey}</code>
                </dd>
              </>
            )}
            {job.waitingOn !== null && (
              <>
                <dt>Waiting on</dt>
                <dd data-testid="waiting-on">{job.waitingOn}</dd>
              </>
            )}
            <dt>Created</dt>
            <dd>{formatDateTime(job.createdAt)}</dd>
            <dt>Started</dt>
            <dd>{job.startedAt ? formatDateTime(job.startedAt) : '—'}</dd>
            <dt>Finished</dt>
            <dd>{job.finishedAt ? formatDateTime(job.finishedAt) : '—'}</dd>
            {job.nextRetryAt && !job.finishedAt && (
              <>
                <dt>Next retry</dt>
                <dd>{formatDateTime(job.nextRetryAt)}</dd>
              </>
            )}
          </dl>
        </section>

        <Attempts job={job} events={events} />
      </div>

      <div class={styles.columns}>
        <section class="panel" aria-labelledby="input-title">
          <h2 id="input-title">Input</h2>
          <JsonView value={job.input} label="Input" />
        </section>
        <section class="panel" aria-labelledby="result-title">
          <h2 id="result-title">Result</h2>
          {job.result !== null && job.result !== undefined ? (
            <JsonView value={job.result} label="Result" />
          ) : job.error && job.status !== 'COMPLETED' ? (
            <p class={styles.error} role="note">
              <strong>{job.error.code}</strong>: {job.error.message}
            </p>
          ) : (
            <p>{TERMINAL.has(job.status) ? 'No result.' : 'No result yet.'}</p>
          )}
        </section>
      </div>

      <Timeline events={events} />
    </div>
  );
}

/** Cancel and Retry, for operators and admins only (a viewer sees neither). */
function Actions({ job, onJob }: { job: Job; onJob: (job: Job) => void }) {
  const { canOperate } = useViewer();
  const { cancel, retry, pending, error } = useJobActions(job.id, onJob);
  if (!canOperate) return null;
  const cancellable = CANCELLABLE.has(job.status);
  const retryable = RETRYABLE.has(job.status);
  return (
    <div class={styles.actions}>
      {cancellable && (
        <button type="button" class="danger" disabled={pending !== null} onClick={() => void cancel()}>
          {pending === 'cancel' ? 'Cancelling…' : 'Cancel'}
        </button>
      )}
      {retryable && (
        <button type="button" disabled={pending !== null} onClick={() => void retry()}>
          {pending === 'retry' ? 'Retrying…' : 'Retry'}
        </button>
      )}
      {error && error.code !== 'FORBIDDEN' && <span role="alert">{error.message}</span>}
    </div>
  );
}

/** Each failed attempt and its reason (ATTEMPT events), and the final error. */
function Attempts({ job, events }: { job: Job; events: JobEvent[] }) {
  const failures = events.filter((event) => event.kind === 'ATTEMPT');
  return (
    <section class="panel" aria-labelledby="attempts-title">
      <h2 id="attempts-title">Attempts</h2>
      {failures.length === 0 && !job.error ? (
        <p>
          {job.attempt === 0 ? 'Not started yet.' : `Attempt ${job.attempt} of ${job.maxAttempts}`}
          {job.attempt > 0 && !job.error ? ', no failure.' : ''}
        </p>
      ) : (
        <ol class={styles.attempts}>
          {failures.map((event) => (
            <li key={event.seq}>
              <span class={styles.id}>{formatClock(event.at)}</span> {event.message}
            </li>
          ))}
          {job.error && job.status === 'FAILED' && (
            <li class={styles.error}>
              final: {job.error.code}: {job.error.message}
            </li>
          )}
        </ol>
      )}
    </section>
  );
}

function Timeline({ events }: { events: JobEvent[] }) {
  const [showProgress, setShowProgress] = useState(true);
  const shown = showProgress ? events : events.filter((event) => event.kind !== 'PROGRESS');
  return (
    <section class="panel" aria-labelledby="timeline-title">
      <div class={styles.timelineHead}>
        <h2 id="timeline-title">Timeline</h2>
        <label class={styles.toggle}>
          <input type="checkbox" checked={showProgress} onChange={(event) => setShowProgress(event.currentTarget.checked)} /> progress events
        </label>
      </div>
      {/* The list scrolls (max-height): it takes the focus, so the keyboard scrolls it too. */}
      <ol class={styles.timeline} aria-label="Job events" tabIndex={0}>
        {shown.map((event) => (
          <li key={event.seq} data-kind={event.kind}>
            <span class={styles.seq}>{event.seq}</span>
            <span>{formatClock(event.at)}</span>
            <span class={`${styles.kind} ${styles[`kind${event.kind}`] ?? ''}`}>{event.kind}</span>
            <StatusBadge status={event.status} />
            <span class={styles.pct}>{Math.round(event.progress)}%</span>
            <span>{event.message}</span>
          </li>
        ))}
      </ol>
    </section>
  );
}
