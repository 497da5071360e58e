import { useState } from 'preact/hooks';
import { api, type ApiError } from '../../api/client.ts';
import { CREATE_SCHEDULE, type CreateScheduleData, type ScheduleRow } from '../../api/schedules.ts';
import { formatDateTime, shortId } from '../../format.ts';
import { useSchedules } from '../../hooks/useSchedules.ts';
import { useTasks } from '../../hooks/useTasks.ts';
import { useViewer } from '../../hooks/useViewer.ts';
import { Link } from '../Link/Link.tsx';
import { StatusBadge } from '../StatusBadge/StatusBadge.tsx';
import styles from './SchedulesPage.module.css';

/** Recurring jobs: each schedule's cron and zone, its next ticks, its last jobs; operators make, pause, resume and delete them. */
export function SchedulesPage() {
  const { canOperate } = useViewer();
  const { schedules, error, pending, act, reload } = useSchedules();
  return (
    <div>
      {canOperate && <CreateForm onCreated={reload} />}
      <section class="panel" aria-labelledby="schedules-title">
        <h2 id="schedules-title">Schedules</h2>
        <p class={styles.note}>
          Each tick makes one job, however many processes run. Times are shown in your browser's zone; the cron is read in the schedule's.
        </p>
        {error && <p role="alert">{error.message}</p>}
        {!schedules && !error && <p role="status">Loading…</p>}
        {schedules?.length === 0 && <p>No schedules yet.</p>}
        {schedules && schedules.length > 0 && (
          <table>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Task</th>
                <th scope="col">Cron</th>
                <th scope="col">Next ticks</th>
                <th scope="col">Recent jobs</th>
                <th scope="col">State</th>
                {canOperate && <th scope="col">Actions</th>}
              </tr>
            </thead>
            <tbody>
              {schedules.map((schedule) => (
                <Row key={schedule.id} schedule={schedule} canOperate={canOperate} pending={pending} act={act} />
              ))}
            </tbody>
          </table>
        )}
      </section>
    </div>
  );
}

function Row({ schedule, canOperate, pending, act }: { schedule: ScheduleRow; canOperate: boolean; pending: string | null; act: (id: string, action: 'pause' | 'resume' | 'delete') => Promise<void> }) {
  const busy = pending?.endsWith(`:${schedule.id}`) ?? false;
  return (
    <tr>
      <th scope="row" class={styles.name}>
        {schedule.name}
        <div class={styles.note}>{schedule.source === 'code' ? 'in code' : `by ${schedule.createdBy ?? '—'}`}</div>
      </th>
      <td>{schedule.task}</td>
      <td>
        <code>{schedule.cron}</code>
        <div class={styles.note}>
          {schedule.timezone} · missed ticks: {schedule.catchUp === 'ONCE' ? 'run once' : 'skip'}
        </div>
      </td>
      <td>
        {schedule.nextRuns.length === 0 ? (
          '—'
        ) : (
          <ul class={styles.plain}>
            {schedule.nextRuns.map((tick) => (
              <li key={tick}>
                <time dateTime={tick}>{formatDateTime(tick)}</time>
              </li>
            ))}
          </ul>
        )}
      </td>
      <td>
        {schedule.jobs.length === 0 ? (
          'none yet'
        ) : (
          <ul class={styles.plain}>
            {schedule.jobs.map((job) => (
              <li key={job.id}>
                <Link to={`/jobs/${job.id}`} aria-label={`Job ${shortId(job.id)}, ${job.status.toLowerCase()}, made ${formatDateTime(job.createdAt)}`}>
                  {shortId(job.id)}
                </Link>{' '}
                <StatusBadge status={job.status} />
              </li>
            ))}
          </ul>
        )}
      </td>
      <td>{schedule.paused ? <StatusBadge status="PAUSED" /> : <StatusBadge status="ACTIVE" />}</td>
      {canOperate && (
        <td class={styles.actions}>
          {schedule.paused ? (
            <button type="button" disabled={busy} aria-label={`Resume ${schedule.name}`} onClick={() => void act(schedule.id, 'resume')}>
              Resume
            </button>
          ) : (
            <button type="button" disabled={busy} aria-label={`Pause ${schedule.name}`} onClick={() => void act(schedule.id, 'pause')}>
              Pause
            </button>
          )}
          {schedule.source === 'api' && (
            <button
              type="button"
              class="danger"
              disabled={busy}
              aria-label={`Delete ${schedule.name}`}
              onClick={() => {
                if (confirm(`Delete the schedule "${schedule.name}"? Its jobs stay.`)) void act(schedule.id, 'delete');
              }}
            >
              Delete
            </button>
          )}
        </td>
      )}
    </tr>
  );
}

const browserZone = Intl.DateTimeFormat().resolvedOptions().timeZone;

/** createSchedule: a task, its input, a cron and a zone; issues come back under their fields. */
function CreateForm({ onCreated }: { onCreated: () => void }) {
  const { tasks } = useTasks();
  const [form, setForm] = useState({ task: 'demo.countWords', name: '', cron: '0 2 * * *', timezone: browserZone, catchUp: 'ONCE', input: '{ "text": "nightly" }' });
  const [error, setError] = useState<ApiError | string | null>(null);
  const [pending, setPending] = useState(false);
  const field = (name: keyof typeof form) => (event: Event) => setForm((f) => ({ ...f, [name]: (event.target as HTMLInputElement).value }));
  const submit = async (event: Event) => {
    event.preventDefault();
    let input: unknown;
    try {
      input = JSON.parse(form.input);
    } catch (failure) {
      setError(`The input is not JSON: ${(failure as Error).message}`);
      return;
    }
    setPending(true);
    setError(null);
    try {
      await api.request<CreateScheduleData>(CREATE_SCHEDULE, { ...form, input, name: form.name || null });
      setForm((f) => ({ ...f, name: '' }));
      onCreated();
    } catch (failure) {
      setError(failure as ApiError);
    } finally {
      setPending(false);
    }
  };
  const issues = typeof error === 'object' && error ? error.errors.flatMap((e) => e.extensions?.issues ?? []) : [];
  return (
    <section class="panel" aria-labelledby="new-schedule-title">
      <h2 id="new-schedule-title">New schedule</h2>
      <form class="field-row" onSubmit={(event) => void submit(event)}>
        <label>
          Task
          <select value={form.task} onChange={field('task')}>
            {tasks?.map((task) => (
              <option key={task.name} value={task.name}>
                {task.name}
              </option>
            ))}
          </select>
        </label>
        <label>
          Name (optional)
          <input value={form.name} onInput={field('name')} placeholder="nightly-profile" />
        </label>
        <label>
          Cron
          <input value={form.cron} onInput={field('cron')} required aria-describedby="cron-help" class={styles.mono} />
        </label>
        <label>
          Time zone
          <input value={form.timezone} onInput={field('timezone')} required />
        </label>
        <label>
          Missed ticks
          <select value={form.catchUp} onChange={field('catchUp')}>
            <option value="ONCE">run once</option>
            <option value="SKIP">skip</option>
          </select>
        </label>
        <label class={styles.wide}>
          Input (JSON)
          <textarea rows={2} value={form.input} onInput={field('input')} class={styles.mono} />
        </label>
        <button type="submit" class="primary" disabled={pending}>
          Create schedule
        </button>
      </form>
      <p id="cron-help" class={styles.note}>
        Five fields: minute hour day month weekday (<code>30 2 * * 1-5</code>: 02:30 on weekdays), or six with seconds first.
      </p>
      {error && (
        <div role="alert">
          {typeof error === 'string' ? error : issues.length > 0 ? (
            <ul>
              {issues.map((issue) => (
                <li key={issue.path}>
                  <strong>{issue.path}</strong>: {issue.message}
                </li>
              ))}
            </ul>
          ) : (
            error.message
          )}
        </div>
      )}
    </section>
  );
}
