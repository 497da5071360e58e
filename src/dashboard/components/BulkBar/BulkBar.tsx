import { useEffect, useRef } from 'preact/hooks';
import type { JobFilterInput, JobSummary } from '../../api/operations.ts';
import { BULK_MAX, useBulkActions, type BulkAction, type BulkPlan, type BulkScope } from '../../hooks/useBulkActions.ts';
import styles from './BulkBar.module.css';

const VERB: Record<BulkAction, string> = { retry: 'Retry', cancel: 'Cancel' };
const PAST: Record<BulkAction, string> = { retry: 'Retried', cancel: 'Cancelled' };
/** The statuses each action applies to, as the confirmation says them. */
const APPLIES: Record<BulkAction, string> = { retry: 'failed or cancelled', cancel: 'waiting or running' };

const jobs = (n: number) => `${n} job${n === 1 ? '' : 's'}`;

export interface BulkBarProps {
  /** The selected rows (of those shown). */
  selected: JobSummary[];
  /** The list's filter as the API applies it: "all matching" acts on it. */
  filter: JobFilterInput;
  /** The filter names no task, phase, tags or input: acting on it means every job of its statuses (`all: true`). */
  broad: boolean;
  /** After an action: the selection is cleared. */
  onDone: () => void;
}

/**
 * Retry or cancel the selected jobs, or every job the list's filter matches (for operators and
 * admins; the list shows it only to them). Each action first asks the API which jobs it would
 * change and shows that count to confirm; confirmed, it acts on exactly those.
 */
export function BulkBar({ selected, filter, broad, onDone }: BulkBarProps) {
  const { plan, pending, outcome, error, prepare, confirm, dismiss } = useBulkActions(onDone);
  const ask = (action: BulkAction, scope: BulkScope) =>
    void (scope === 'selected'
      ? prepare(action, scope, { ids: selected.map((job) => job.id) }, false, selected.length)
      : prepare(action, scope, filter, broad));

  return (
    <div class={styles.bar}>
      <div role="group" aria-label="Bulk actions" class={styles.buttons}>
        <span class={styles.count}>{selected.length ? `${jobs(selected.length)} selected` : 'No job selected'}</span>
        <button type="button" disabled={pending || selected.length === 0} onClick={() => ask('retry', 'selected')}>
          Retry selected
        </button>
        <button type="button" class="danger" disabled={pending || selected.length === 0} onClick={() => ask('cancel', 'selected')}>
          Cancel selected
        </button>
        <button type="button" disabled={pending} onClick={() => ask('retry', 'matching')}>
          Retry all matching
        </button>
        <button type="button" class="danger" disabled={pending} onClick={() => ask('cancel', 'matching')}>
          Cancel all matching
        </button>
      </div>
      {plan && <Confirm plan={plan} pending={pending} onConfirm={() => void confirm()} onDismiss={dismiss} />}
      {error && <p role="alert">{error.message}</p>}
      <p role="status" class={styles.outcome}>
        {outcome && outcomeText(outcome.action, outcome.acted, outcome.planned, outcome.hasMore)}
      </p>
    </div>
  );
}

function outcomeText(action: BulkAction, acted: number, planned: number, hasMore: boolean): string {
  const moved = planned - acted;
  return [
    `${PAST[action]} ${jobs(acted)}.`,
    moved ? `${jobs(moved)} had moved on meanwhile and ${moved === 1 ? 'was' : 'were'} left alone.` : '',
    hasMore ? `More jobs match: “${VERB[action]} all matching” again for the next ${BULK_MAX}.` : '',
  ]
    .filter(Boolean)
    .join(' ');
}

/** The count to confirm, and the two answers; the confirm button takes the focus. */
function Confirm({ plan, pending, onConfirm, onDismiss }: { plan: BulkPlan; pending: boolean; onConfirm: () => void; onDismiss: () => void }) {
  const first = useRef<HTMLButtonElement>(null);
  useEffect(() => first.current?.focus(), [plan]);
  const n = plan.ids.length;
  const verb = VERB[plan.action];
  let question: string;
  if (n === 0) question = `None of ${plan.scope === 'selected' ? 'the selected jobs' : 'the matching jobs'} can be ${plan.action === 'retry' ? 'retried' : 'cancelled'}: ${plan.action} applies to ${APPLIES[plan.action]} jobs.`;
  else if (plan.scope === 'selected') {
    const others = plan.asked - n;
    question = `${verb} ${jobs(n)}?${others ? ` ${others} of the ${plan.asked} selected ${others === 1 ? 'is' : 'are'} not ${APPLIES[plan.action]} and stay${others === 1 ? 's' : ''} as ${others === 1 ? 'it is' : 'they are'}.` : ''}`;
  } else if (plan.hasMore) question = `${verb} the newest ${jobs(n)} of those matching the filter? More match: run it again for the rest.`;
  else question = `${verb} all ${jobs(n)} matching the filter?`;
  const id = `bulk-confirm-${plan.action}`;
  return (
    <div role="group" aria-labelledby={id} class={styles.confirm} data-testid="bulk-confirm">
      <p id={id}>{question}</p>
      {n > 0 && (
        <button ref={first} type="button" class={plan.action === 'cancel' ? 'danger' : undefined} disabled={pending} onClick={onConfirm}>
          {pending ? `${plan.action === 'retry' ? 'Retrying' : 'Cancelling'}…` : `${verb} ${jobs(n)}`}
        </button>
      )}
      <button ref={n === 0 ? first : undefined} type="button" disabled={pending} onClick={onDismiss}>
        {n === 0 ? 'Close' : 'Keep them'}
      </button>
    </div>
  );
}
