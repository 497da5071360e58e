import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { api, type ApiError } from '../api/client.ts';
import { JOBS, TERMINAL, type JobsData, type JobStatus, type JobSummary, type Phase } from '../api/operations.ts';
import { useApiState } from './useApiState.ts';
import { useJobUpdates } from './useJobUpdates.ts';

/** `ACTIVE`: every status that is not final. */
export type StatusFilter = JobStatus | 'ACTIVE' | '';

export interface JobFilter {
  status: StatusFilter;
  phase: Phase | '';
  type: string;
  /** Matched here, not by the API: a part of the id or of the input JSON. */
  text: string;
}

export interface JobsState {
  rows: JobSummary[];
  loading: boolean;
  error: ApiError | null;
  hasMore: boolean;
  loadMore: () => void;
}

const PAGE = 50;

function statuses(status: StatusFilter): JobStatus[] | undefined {
  if (status === 'ACTIVE') return ['QUEUED', 'RUNNING', 'RETRYING', 'CANCELLING'];
  return status ? [status] : undefined;
}

function matchesStatus(job: JobSummary, status: StatusFilter): boolean {
  if (status === 'ACTIVE') return !TERMINAL.has(job.status);
  return !status || job.status === status;
}

export function matchesText(job: JobSummary, text: string): boolean {
  const needle = text.trim().toLowerCase();
  if (!needle) return true;
  return job.id.toLowerCase().includes(needle) || JSON.stringify(job.input ?? null).toLowerCase().includes(needle);
}

const newestFirst = (a: JobSummary, b: JobSummary) => b.createdAt.localeCompare(a.createdAt) || b.id.localeCompare(a.id);

/**
 * Jobs newest first, filtered by status, phase and task by the API (text here), kept live by the
 * jobUpdates subscription: a job enqueued anywhere appears at the top, a running one's progress
 * moves, a job that stops matching the status filter leaves.
 */
export function useJobs(filter: JobFilter): JobsState {
  const { session, reconnects } = useApiState();
  const [rows, setRows] = useState<JobSummary[]>([]);
  const [page, setPage] = useState<{ loading: boolean; error: ApiError | null; endCursor: string | null; hasMore: boolean }>({
    loading: true,
    error: null,
    endCursor: null,
    hasMore: false,
  });
  const { status, phase, type } = filter;

  // The live filter's signal: a page requested under a filter that has since changed is dropped,
  // whether it was the first page or an older one (loadMore).
  const live = useRef<{ current: boolean }>({ current: false });

  const load = useCallback(
    (after: string | null, signal: { current: boolean }) => {
      // A first page starts over: no cursor of the previous filter is followed meanwhile.
      setPage((before) => (after ? { ...before, loading: true } : { loading: true, error: null, endCursor: null, hasMore: false }));
      const variables = { first: PAGE, after, status: statuses(status), type: type || undefined, phase: phase || undefined };
      api.request<JobsData>(JOBS, variables).then(
        (data) => {
          if (!signal.current) return;
          setRows((before) => merge(after ? before : [], data.jobs.nodes));
          setPage({ loading: false, error: null, endCursor: data.jobs.pageInfo.endCursor, hasMore: data.jobs.pageInfo.hasNextPage });
        },
        (error: ApiError) => signal.current && setPage((before) => ({ ...before, loading: false, error })),
      );
    },
    [status, phase, type],
  );

  useEffect(() => {
    const signal = { current: true };
    live.current = signal;
    load(null, signal);
    return () => {
      signal.current = false;
    };
  }, [load, session, reconnects]);

  useJobUpdates(
    (job) =>
      setRows((before) => {
        if (!matchesStatus(job, status)) return before.filter((row) => row.id !== job.id);
        return merge(before, [job]);
      }),
    { phase: phase || undefined, type: type || undefined },
  );

  const loadMore = useCallback(() => {
    if (page.endCursor) load(page.endCursor, live.current);
  }, [load, page.endCursor]);

  return { rows, loading: page.loading, error: page.error, hasMore: page.hasMore, loadMore };
}

/** `incoming` into `rows` by id, keeping the later state of each job (by lastSeq), newest first. */
function merge(rows: JobSummary[], incoming: JobSummary[]): JobSummary[] {
  const byId = new Map(rows.map((row) => [row.id, row]));
  for (const job of incoming) {
    const known = byId.get(job.id);
    if (!known || job.lastSeq >= known.lastSeq) byId.set(job.id, job);
  }
  return [...byId.values()].sort(newestFirst);
}
