import { useState } from 'preact/hooks';
import { api, type ApiError } from '../../api/client.ts';
import { DECIDE_GATE, RUN_ACTION, type DecideGateData, type RunActionData, type RunDetail as Run } from '../../api/operations.ts';
import { formatClock, formatDateTime, shortId } from '../../format.ts';
import { useRun } from '../../hooks/useRun.ts';
import { useViewer } from '../../hooks/useViewer.ts';
import { Link } from '../Link/Link.tsx';
import { ProgressBar } from '../ProgressBar/ProgressBar.tsx';
import { RunGraph } from '../RunGraph/RunGraph.tsx';
import { RunReview } from '../RunReview/RunReview.tsx';
import { StatusBadge } from '../StatusBadge/StatusBadge.tsx';
import styles from './RunDetail.module.css';

type Step = Run['steps'][number];
/** How a run's status reads on a progress bar. */
const barStatus = (status: Run['status']) => (status === 'COMPLETED' ? 'COMPLETED' : status === 'FAILED' || status === 'CANCELLED' ? 'FAILED' : 'RUNNING');

/** One run, live: its DAG, its steps, the gates waiting for a decision, its history, and what its steps made. */
export function RunDetail({ id }: { id: string }) {
  const { run, events, error, update } = useRun(id);
  if (run === null) {
    return (
      <section class="panel">
        <h2>No such run</h2>
        <p>
          There is no run <code>{id}</code>, or it is not one you may see. <Link to="/runs">All runs</Link>
        </p>
      </section>
    );
  }
  if (run === undefined) return <p role={error ? 'alert' : 'status'}>{error ? `Cannot read the run: ${error.message}` : 'Loading…'}</p>;
  const input = run.input as { reportId?: string; datasetId?: string };
  const completed = run.steps.filter((step) => step.status === 'COMPLETED').length;
  return (
    <div>
      <section class="panel" aria-labelledby="run-title">
        <div class={styles.head}>
          <h2 id="run-title">{run.workflow}</h2>
          <StatusBadge status={run.status} />
          <code class={styles.id}>{run.id}</code>
          <RunActions run={run} onRun={update} />
        </div>
        <div class={styles.progress}>
          <ProgressBar value={run.progress} status={barStatus(run.status)} label="Run progress" />
        </div>
        {run.reason && <p>{run.reason}</p>}
        <p class={styles.meta}>
          Started by {run.createdBy ?? 'someone'} at {formatDateTime(run.createdAt)}
          {run.finishedAt ? `, ended at ${formatDateTime(run.finishedAt)}` : ''}.
        </p>
        {error && <p role="alert">Live updates stopped: {error.message}</p>}
        <RunGraph run={run} />
      </section>

      {run.steps
        .filter((step) => step.kind === 'GATE' && step.status === 'WAITING')
        .map((gate) => (
          <GatePanel key={gate.name} run={run} gate={gate} onRun={update} />
        ))}

      <section class="panel" aria-labelledby="steps-title">
        <h2 id="steps-title">Steps</h2>
        <table>
          <thead>
            <tr>
              <th scope="col">Step</th>
              <th scope="col">Status</th>
              <th scope="col">Progress</th>
              <th scope="col">Job</th>
              <th scope="col">Decision, error or message</th>
            </tr>
          </thead>
          <tbody>
            {run.steps.map((step) => (
              <tr key={step.name}>
                <td>
                  {step.name}
                  {step.kind === 'GATE' ? ' (sign-off)' : ''}
                  {step.generation > 0 ? ` · run ${step.generation + 1}` : ''}
                </td>
                <td>
                  <StatusBadge status={step.status} />
                </td>
                <td>{Math.round(step.progress)}%</td>
                <td>{step.job ? <Link to={`/jobs/${step.job.id}`}>{shortId(step.job.id)}</Link> : '—'}</td>
                <td>{noteOf(step)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>

      {input.reportId && input.datasetId && <RunReview reportId={input.reportId} datasetId={input.datasetId} version={completed} />}

      <section class="panel" aria-labelledby="history-title">
        <h2 id="history-title">History</h2>
        <ol class={styles.history}>
          {events.map((event) => (
            <li key={event.seq}>
              <span class={styles.time}>{formatClock(event.at)}</span> <strong>{event.step ?? 'run'}</strong> <StatusBadge status={event.status} />{' '}
              {event.message}
              {event.actor ? ` — ${event.actor}` : ''}
            </li>
          ))}
        </ol>
      </section>
    </div>
  );
}

function noteOf(step: Step): string {
  if (step.decision) return `${step.decision.decision.toLowerCase()} by ${step.decision.by ?? '?'} at ${formatDateTime(step.decision.at)}${step.decision.comment ? `: “${step.decision.comment}”` : ''}`;
  if (step.error) return step.error;
  if (step.kind === 'GATE' && step.status === 'WAITING') return step.dueAt ? `waiting for sign-off, due ${formatDateTime(step.dueAt)}` : 'waiting for sign-off';
  return step.message ?? '';
}

/** Approve or reject an open gate, with a comment kept with the decision (approvers and admins). */
function GatePanel({ run, gate, onRun }: { run: Run; gate: Step; onRun: (run: Run) => void }) {
  const { canApprove, me } = useViewer();
  const [comment, setComment] = useState('');
  const [pending, setPending] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const own = me !== null && me.role !== 'admin' && run.createdBy === me.name;
  const decide = async (approve: boolean) => {
    setPending(true);
    setError(null);
    try {
      const data = await api.request<DecideGateData>(DECIDE_GATE, { runId: run.id, step: gate.name, comment: comment || null, approve });
      const next = data.approveStep ?? data.rejectStep;
      if (next) onRun(next);
    } catch (failure) {
      setError(failure as ApiError);
    } finally {
      setPending(false);
    }
  };
  const titleId = `gate-${gate.name}`;
  return (
    <section class={`panel ${styles.gate}`} aria-labelledby={titleId}>
      <h2 id={titleId}>Sign-off: {gate.name}</h2>
      <p>
        The run waits for a decision{gate.startedAt ? ` since ${formatDateTime(gate.startedAt)}` : ''}
        {gate.dueAt ? `; without one by ${formatDateTime(gate.dueAt)} it counts as rejected` : ''}. Nothing runs meanwhile. What it signs off is below.
      </p>
      {!canApprove ? (
        <p>An approver decides this gate.</p>
      ) : own ? (
        <p>You started this run: another approver decides its gates.</p>
      ) : (
        <form
          class={styles.decision}
          onSubmit={(event) => {
            event.preventDefault();
          }}
        >
          <label for={`${titleId}-comment`}>Comment (kept with the decision)</label>
          <textarea id={`${titleId}-comment`} rows={2} value={comment} onInput={(event) => setComment((event.target as HTMLTextAreaElement).value)} />
          <div class={styles.buttons}>
            <button type="button" class="primary" disabled={pending} onClick={() => void decide(true)}>
              Approve
            </button>
            <button type="button" class="danger" disabled={pending || comment.trim() === ''} onClick={() => void decide(false)} title="A rejection says why: write a comment">
              Reject
            </button>
          </div>
          {error && <p role="alert">{error.message}</p>}
        </form>
      )}
    </section>
  );
}

/** Retry a failed or cancelled run; cancel a live one (operators, their own runs; admins). */
function RunActions({ run, onRun }: { run: Run; onRun: (run: Run) => void }) {
  const { canOperate } = useViewer();
  const [pending, setPending] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  if (!canOperate) return null;
  const act = async (retry: boolean) => {
    setPending(true);
    setError(null);
    try {
      const data = await api.request<RunActionData>(RUN_ACTION, { id: run.id, retry, cancel: !retry });
      const next = data.retryRun ?? data.cancelRun;
      if (next) onRun(next);
    } catch (failure) {
      setError(failure as ApiError);
    } finally {
      setPending(false);
    }
  };
  const live = run.status === 'RUNNING' || run.status === 'WAITING';
  return (
    <div class={styles.actions}>
      {(run.status === 'FAILED' || run.status === 'CANCELLED') && (
        <button type="button" disabled={pending} onClick={() => void act(true)}>
          Retry
        </button>
      )}
      {live && (
        <button type="button" class="danger" disabled={pending} onClick={() => void act(false)}>
          Cancel run
        </button>
      )}
      {error && <span role="alert">{error.message}</span>}
    </div>
  );
}
