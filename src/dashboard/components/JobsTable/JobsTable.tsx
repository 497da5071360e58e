import { JOB_STATUSES, PHASES, type Phase } from '../../api/operations.ts';
import { formatAge, formatDateTime, shortId } from '../../format.ts';
import { matchesText, useJobs, type JobFilter, type StatusFilter } from '../../hooks/useJobs.ts';
import { useNow } from '../../hooks/useNow.ts';
import { navigate, useRoute } from '../../hooks/useRoute.ts';
import { useTasks } from '../../hooks/useTasks.ts';
import { Link } from '../Link/Link.tsx';
import { ProgressBar } from '../ProgressBar/ProgressBar.tsx';
import { StatusBadge } from '../StatusBadge/StatusBadge.tsx';
import styles from './JobsTable.module.css';

/** The filter lives in the URL (?status=&phase=&type=&q=), so a filtered view can be shared. */
function filterFrom(search: URLSearchParams): JobFilter {
  const status = search.get('status') ?? '';
  const phase = search.get('phase') ?? '';
  return {
    status: status === 'ACTIVE' || (JOB_STATUSES as readonly string[]).includes(status) ? (status as StatusFilter) : '',
    phase: (PHASES as readonly string[]).includes(phase) ? (phase as Phase) : '',
    type: search.get('type') ?? '',
    text: search.get('q') ?? '',
  };
}

function setFilter(filter: JobFilter): void {
  const search = new URLSearchParams();
  if (filter.status) search.set('status', filter.status);
  if (filter.phase) search.set('phase', filter.phase);
  if (filter.type) search.set('type', filter.type);
  if (filter.text) search.set('q', filter.text);
  const query = search.toString();
  navigate(`/jobs${query ? `?${query}` : ''}`, { replace: true });
}

export function JobsTable() {
  const { search } = useRoute();
  const filter = filterFrom(search);
  const { rows, loading, error, hasMore, loadMore } = useJobs(filter);
  const { tasks } = useTasks();
  const now = useNow(5_000);
  const shown = rows.filter((job) => matchesText(job, filter.text));
  const change = (patch: Partial<JobFilter>) => setFilter({ ...filter, ...patch });

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
        <label class={styles.search}>
          Id or input contains
          <input type="search" value={filter.text} placeholder="e.g. 3f2a or loans" onInput={(event) => change({ text: event.currentTarget.value })} />
        </label>
      </form>

      {error && <p role="alert">Cannot list jobs: {error.message}</p>}
      <table class={styles.table} aria-label="Jobs, newest first">
        <thead>
          <tr>
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
            <tr key={job.id} data-job-id={job.id}>
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
