import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { api, type ApiError } from '../api/client.ts';
import { JOBS, TERMINAL, type JobFilterInput, type JobsData, type JobStatus, type JobSummary, type Phase } from '../api/operations.ts';
import { useApiState } from './useApiState.ts';
import { useJobUpdates } from './useJobUpdates.ts';

/** `ACTIVE`: every status that is not final. */
export type StatusFilter = JobStatus | 'ACTIVE' | '';

export interface JobFilter {
  status: StatusFilter;
  phase: Phase | '';
  type: string;
  /** Jobs with every one of these tags (by the API). */
  tags: string[];
  /** "Input field" as typed: `key=value` pairs or a JSON object; the jobs whose input contains it (by the API). */
  input: string;
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

/**
 * The "input field" text as the JSON object the API matches by containment: a JSON object as
 * written, or `key=value` pairs separated by commas (each value as JSON when it reads as such,
 * `size=40` a number, else as text). Empty: no input filter.
 */
export function parseInputFilter(text: string): { value: Record<string, unknown> | undefined } | { error: string } {
  const trimmed = text.trim();
  if (!trimmed) return { value: undefined };
  if (trimmed.startsWith('{')) {
    try {
      const value: unknown = JSON.parse(trimmed);
      if (value && typeof value === 'object' && !Array.isArray(value)) return { value: value as Record<string, unknown> };
    } catch {
      // said below
    }
    return { error: 'not a JSON object' };
  }
  const value: Record<string, unknown> = {};
  for (const pair of trimmed.split(',')) {
    const at = pair.indexOf('=');
    const key = pair.slice(0, at).trim();
    if (at < 0 || !key) return { error: 'write key=value (several with commas), or a JSON object' };
    const raw = pair.slice(at + 1).trim();
    try {
      value[key] = JSON.parse(raw);
    } catch {
      value[key] = raw;
    }
  }
  return { value };
}

/** The part of the filter the API applies (jobs, cancelJobs, retryJobs); an input that does not parse is left out. */
export function apiFilter(filter: JobFilter): JobFilterInput {
  const status = statuses(filter.status);
  const input = parseInputFilter(filter.input);
  return {
    ...(status ? { status } : {}),
    ...(filter.phase ? { phase: filter.phase } : {}),
    ...(filter.type ? { type: filter.type } : {}),
    ...(filter.tags.length ? { tags: filter.tags } : {}),
    ...('value' in input && input.value ? { input: input.value } : {}),
  };
}

/** PostgreSQL's jsonb `@>`, for jobs that arrive live: objects by key, arrays by element, the rest by value. */
export function jsonContains(value: unknown, wanted: unknown): boolean {
  if (Array.isArray(wanted)) return Array.isArray(value) && wanted.every((w) => value.some((v) => jsonContains(v, w)));
  if (wanted && typeof wanted === 'object') {
    if (!value || typeof value !== 'object' || Array.isArray(value)) return false;
    return Object.entries(wanted).every(([key, w]) => key in value && jsonContains((value as Record<string, unknown>)[key], w));
  }
  return value === wanted;
}

/** Whether a job (one that arrived live) is one the API's filter would have listed. */
function matchesApiFilter(job: JobSummary, filter: JobFilterInput): boolean {
  return (
    (!filter.tags?.length || filter.tags.every((tag) => job.tags.includes(tag))) &&
    (filter.input == null || jsonContains(job.input, filter.input))
  );
}

export function matchesText(job: JobSummary, text: string): boolean {
  const needle = text.trim().toLowerCase();
  if (!needle) return true;
  return job.id.toLowerCase().includes(needle) || JSON.stringify(job.input ?? null).toLowerCase().includes(needle);
}

const newestFirst = (a: JobSummary, b: JobSummary) => b.createdAt.localeCompare(a.createdAt) || b.id.localeCompare(a.id);

/**
 * Jobs newest first, filtered by status, phase, task, tags and input by the API (text here), kept live by the
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
  // The API's filter, as a value that only changes when the filter does.
  const key = JSON.stringify(apiFilter(filter));

  // The live filter's signal: a page requested under a filter that has since changed is dropped,
  // whether it was the first page or an older one (loadMore).
  const live = useRef<{ current: boolean }>({ current: false });

  const load = useCallback(
    (after: string | null, signal: { current: boolean }) => {
      // A first page starts over: no cursor of the previous filter is followed meanwhile.
      setPage((before) => (after ? { ...before, loading: true } : { loading: true, error: null, endCursor: null, hasMore: false }));
      const variables = { first: PAGE, after, filter: JSON.parse(key) as JobFilterInput };
      api.request<JobsData>(JOBS, variables).then(
        (data) => {
          if (!signal.current) return;
          setRows((before) => merge(after ? before : [], data.jobs.nodes));
          setPage({ loading: false, error: null, endCursor: data.jobs.pageInfo.endCursor, hasMore: data.jobs.pageInfo.hasNextPage });
        },
        (error: ApiError) => signal.current && setPage((before) => ({ ...before, loading: false, error })),
      );
    },
    [key],
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
        if (!matchesStatus(job, status) || !matchesApiFilter(job, JSON.parse(key) as JobFilterInput)) return before.filter((row) => row.id !== job.id);
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
