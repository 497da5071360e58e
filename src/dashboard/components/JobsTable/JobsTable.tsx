import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { JOB_STATUSES, PHASES, type Phase } from '../../api/operations.ts';
import { formatAge, formatDateTime, shortId } from '../../format.ts';
import { apiFilter, matchesText, parseInputFilter, useJobs, type JobFilter, type StatusFilter } from '../../hooks/useJobs.ts';
import { useNow } from '../../hooks/useNow.ts';
import { navigate, useRoute } from '../../hooks/useRoute.ts';
import { useTasks } from '../../hooks/useTasks.ts';
import { useViewer } from '../../hooks/useViewer.ts';
import { BulkBar } from '../BulkBar/BulkBar.tsx';
import { Link } from '../Link/Link.tsx';
import { ProgressBar } from '../ProgressBar/ProgressBar.tsx';
import { StatusBadge } from '../StatusBadge/StatusBadge.tsx';
import styles from './JobsTable.module.css';

/** The filter lives in the URL (?status=&phase=&type=&tag=&input=&q=), so a filtered view can be shared. */
function filterFrom(search: URLSearchParams): JobFilter {
  const status = search.get('status') ?? '';
  const phase = search.get('phase') ?? '';
  return {
    status: status === 'ACTIVE' || (JOB_STATUSES as readonly string[]).includes(status) ? (status as StatusFilter) : '',
    phase: (PHASES as readonly string[]).includes(phase) ? (phase as Phase) : '',
    type: search.get('type') ?? '',
    tags: search.getAll('tag').filter(Boolean),
    input: search.get('input') ?? '',
    text: search.get('q') ?? '',
  };
}

function setFilter(filter: JobFilter): void {
  const search = new URLSearchParams();
  if (filter.status) search.set('status', filter.status);
  if (filter.phase) search.set('phase', filter.phase);
  if (filter.type) search.set('type', filter.type);
  for (const tag of filter.tags) search.append('tag', tag);
  if (filter.input) search.set('input', filter.input);
  if (filter.text) search.set('q', filter.text);
  const query = search.toString();
  navigate(`/jobs${query ? `?${query}` : ''}`, { replace: true });
}

const splitTags = (text: string) => text.split(',').map((tag) => tag.trim()).filter(Boolean);

export function JobsTable() {
  const { search } = useRoute();
  const filter = filterFrom(search);
  const { rows, loading, error, hasMore, loadMore } = useJobs(filter);
  const { tasks } = useTasks();
  const { canOperate } = useViewer();
  const now = useNow(5_000);
  const shown = rows.filter((job) => matchesText(job, filter.text));
  const change = (patch: Partial<JobFilter>) => setFilter({ ...filter, ...patch });
  const parsedInput = parseInputFilter(filter.input);
  const inputProblem = 'error' in parsedInput ? parsedInput.error : null;
  const api = apiFilter(filter);

  // The selection: ids the person ticked, kept while the filter stays; what the bar acts on is the
  // selected rows still shown.
  const [selected, setSelected] = useState<ReadonlySet<string>>(new Set());
  const filterKey = JSON.stringify(api);
  useEffect(() => setSelected(new Set()), [filterKey]);
  const selectedRows = shown.filter((job) => selected.has(job.id));
  const toggle = (id: string, on: boolean) =>
    setSelected((before) => {
      const next = new Set(before);
      if (on) next.add(id);
      else next.delete(id);
      return next;
    });
  const toggleAll = (on: boolean) => setSelected(on ? new Set(shown.map((job) => job.id)) : new Set());
  const clearSelection = useCallback(() => setSelected(new Set()), []);
  const allChecked = shown.length > 0 && selectedRows.length === shown.length;
  const someChecked = selectedRows.length > 0 && !allChecked;

  return (
    <section class="panel" aria-labelledby="jobs-title">
      <h2 id="jobs-title">Jobs</h2>
      <form class={styles.filters} role="search" onSubmit={(event) => event.preventDefault()}>
        <label>
          Status
          <select value={filter.status} onChange={(event) => change({ status: event.currentTarget.value as StatusFilter })}>
            <option value="">any</option>
            <option value="ACTIVE">active (not finished)</option>
            {JOB_STATUSES.map((status) => (
              <option key={status} value={status}>
                {status}
              </option>
            ))}
          </select>
        </label>
        <label>
          Phase
          <select value={filter.phase} onChange={(event) => change({ phase: event.currentTarget.value as Phase | '' })}>
            <option value="">any</option>
            {PHASES.map((phase) => (
              <option key={phase} value={phase}>
                {phase}
              </option>
            ))}
          </select>
        </label>
        <label>
          Task
          <select value={filter.type} onChange={(event) => change({ type: event.currentTarget.value })}>
            <option value="">any</option>
            {(tasks ?? []).map((task) => (
              <option key={task.name} value={task.name}>
                {task.name}
              </option>
            ))}
            {filter.type && !tasks?.some((task) => task.name === filter.type) && <option value={filter.type}>{filter.type}</option>}
          </select>
        </label>
        <label>
          Tags
          <CommittedInput value={filter.tags.join(', ')} placeholder="report:…, urgent" onCommit={(text) => change({ tags: splitTags(text) })} />
        </label>
        <label>
          Input field
          <CommittedInput
            value={filter.input}
            placeholder='reportId=… or {"…": …}'
            invalid={inputProblem !== null}
            describedBy={inputProblem ? 'input-filter-problem' : undefined}
            onCommit={(text) => change({ input: text.trim() })}
          />
        </label>
        <label class={styles.search}>
          Id or input contains
          <input type="search" value={filter.text} placeholder="e.g. 3f2a or loans" onInput={(event) => change({ text: event.currentTarget.value })} />
        </label>
      </form>
      {inputProblem && (
        <p id="input-filter-problem" role="alert">
          Input field: {inputProblem}; not applied.
        </p>
      )}

      {canOperate && (
        <BulkBar selected={selectedRows} filter={api} broad={!api.type && !api.phase && !api.tags?.length && !api.input} onDone={clearSelection} />
      )}
      {error && <p role="alert">Cannot list jobs: {error.message}</p>}
      <table class={styles.table} aria-label="Jobs, newest first">
        <thead>
          <tr>
            {canOperate && (
              <th class={styles.select}>
                <SelectAll checked={allChecked} mixed={someChecked} disabled={shown.length === 0} onChange={toggleAll} />
              </th>
            )}
            <th>job</th>
            <th>task</th>
            <th>phase</th>
            <th>status</th>
            <th>progress</th>
            <th class={styles.num}>attempt</th>
            <th class={styles.num}>created</th>
            <th>message</th>
          </tr>
        </thead>
        <tbody>
          {shown.map((job) => (
            <tr key={job.id} data-job-id={job.id} class={selected.has(job.id) ? styles.picked : undefined}>
              {canOperate && (
                <td class={styles.select}>
                  <input
                    type="checkbox"
                    aria-label={`Select job ${shortId(job.id)} (${job.type}, ${job.status})`}
                    checked={selected.has(job.id)}
                    onChange={(event) => toggle(job.id, event.currentTarget.checked)}
                  />
                </td>
              )}
              <td>
                <Link to={`/jobs/${job.id}`} title={job.id}>
                  <code>{shortId(job.id)}</code>
                </Link>
              </td>
              <td>{job.type}</td>
              <td>{job.phase}</td>
              <td>
                <StatusBadge status={job.status} />
              </td>
              <td>
                <ProgressBar value={job.progress} status={job.status} label={`Progress of job ${job.id}`} />
              </td>
              <td class={styles.num}>
                {job.attempt}/{job.maxAttempts}
              </td>
              <td class={styles.num} title={formatDateTime(job.createdAt)}>
                {formatAge(job.createdAt, now)}
              </td>
              <td class={styles.message} title={job.message ?? ''}>
                {job.message}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <div class={styles.footer}>
        <span role="status">
          {loading ? 'Loading…' : `${shown.length} job${shown.length === 1 ? '' : 's'}${filter.text ? ` of ${rows.length} loaded` : ''}`}
        </span>
        {hasMore && !loading && (
          <button type="button" onClick={loadMore}>
            Load older jobs
          </button>
        )}
      </div>
    </section>
  );
}

/** The header's checkbox: every shown row at once; "mixed" when some are selected. */
function SelectAll({ checked, mixed, disabled, onChange }: { checked: boolean; mixed: boolean; disabled: boolean; onChange: (on: boolean) => void }) {
  const box = useRef<HTMLInputElement>(null);
  useEffect(() => {
    if (box.current) box.current.indeterminate = mixed;
  }, [mixed]);
  return (
    <input
      ref={box}
      type="checkbox"
      aria-label="Select every job shown"
      checked={checked}
      disabled={disabled}
      onChange={(event) => onChange(event.currentTarget.checked)}
    />
  );
}

/**
 * A text field whose value is applied when the person is done with it (Enter, or leaving the
 * field), not at every key: each application is a query to the API.
 */
function CommittedInput(props: { value: string; placeholder: string; invalid?: boolean; describedBy?: string | undefined; onCommit: (text: string) => void }) {
  const { value, placeholder, invalid, describedBy, onCommit } = props;
  const [draft, setDraft] = useState(value);
  useEffect(() => setDraft(value), [value]);
  return (
    <input
      type="text"
      value={draft}
      placeholder={placeholder}
      aria-invalid={invalid || undefined}
      aria-describedby={describedBy}
      onInput={(event) => setDraft(event.currentTarget.value)}
      onChange={(event) => event.currentTarget.value !== value && onCommit(event.currentTarget.value)}
      onKeyDown={(event) => event.key === 'Enter' && event.currentTarget.value !== value && onCommit(event.currentTarget.value)}
    />
  );
}
