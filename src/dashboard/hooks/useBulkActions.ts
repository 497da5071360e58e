import { useCallback, useState } from 'preact/hooks';
import { api, type ApiError } from '../api/client.ts';
import { BULK_ACTION, type BulkActionData, type JobFilterInput } from '../api/operations.ts';

export type BulkAction = 'retry' | 'cancel';
/** The selected rows, or every job the list's filter matches. */
export type BulkScope = 'selected' | 'matching';

/** The most jobs one bulk call acts on (the API's limit). */
export const BULK_MAX = 1_000;

/** What a confirmation shows: the jobs the action would change, found by a dry run. */
export interface BulkPlan {
  action: BulkAction;
  scope: BulkScope;
  filter: JobFilterInput;
  all: boolean;
  /** The jobs the dry run matched: the confirmed action acts on exactly these (those still in a status it applies to). */
  ids: string[];
  /** More jobs match beyond these. */
  hasMore: boolean;
  /** How many rows were selected (scope 'selected'). */
  asked: number;
}

export interface BulkOutcome {
  action: BulkAction;
  acted: number;
  planned: number;
  hasMore: boolean;
}

async function send(action: BulkAction, variables: { filter: JobFilterInput; all: boolean; dryRun: boolean; limit: number }) {
  const data = await api.request<BulkActionData>(BULK_ACTION, { ...variables, retry: action === 'retry' });
  const answer = action === 'retry' ? data.retryJobs : data.cancelJobs;
  if (!answer) throw new Error(`no answer for ${action}Jobs`);
  return answer;
}

/**
 * Retry or cancel many jobs: `plan` asks the API which jobs the action would change (a dry run),
 * for the person to confirm; `confirm` then acts on exactly those ids (a job that began to match
 * meanwhile is not touched; one that moved on is left alone and not counted).
 */
export function useBulkActions(onDone: () => void) {
  const [plan, setPlan] = useState<BulkPlan | null>(null);
  const [pending, setPending] = useState(false);
  const [outcome, setOutcome] = useState<BulkOutcome | null>(null);
  const [error, setError] = useState<ApiError | null>(null);

  const prepare = useCallback(async (action: BulkAction, scope: BulkScope, filter: JobFilterInput, all: boolean, asked = 0) => {
    setPending(true);
    setError(null);
    setOutcome(null);
    try {
      const answer = await send(action, { filter, all, dryRun: true, limit: BULK_MAX });
      setPlan({ action, scope, filter, all, ids: answer.matchedIds, hasMore: answer.hasMore, asked });
    } catch (failure) {
      setError(failure as ApiError);
    } finally {
      setPending(false);
    }
  }, []);

  const confirm = useCallback(async () => {
    if (!plan) return;
    setPending(true);
    setError(null);
    try {
      const answer = await send(plan.action, { filter: { ...plan.filter, ids: plan.ids }, all: plan.all, dryRun: false, limit: BULK_MAX });
      setOutcome({ action: plan.action, acted: answer.acted, planned: plan.ids.length, hasMore: plan.hasMore });
      setPlan(null);
      onDone();
    } catch (failure) {
      setError(failure as ApiError);
    } finally {
      setPending(false);
    }
  }, [plan, onDone]);

  const dismiss = useCallback(() => setPlan(null), []);

  return { plan, pending, outcome, error, prepare, confirm, dismiss };
}
