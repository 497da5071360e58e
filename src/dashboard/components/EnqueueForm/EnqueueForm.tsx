import { useEffect, useState } from 'preact/hooks';
import { json } from '../../format.ts';
import { useEnqueue } from '../../hooks/useEnqueue.ts';
import { navigate } from '../../hooks/useRoute.ts';
import { useTasks } from '../../hooks/useTasks.ts';
import { useViewer } from '../../hooks/useViewer.ts';
import { exampleInput } from './example-input.ts';
import styles from './EnqueueForm.module.css';

const DEFAULT_TASK = 'demo.countWords';

/** Pick a task, edit its JSON input, enqueue it (`enqueueJob`), then follow the new job. */
export function EnqueueForm() {
  const { tasks, error: tasksError } = useTasks();
  const { canOperate, me } = useViewer();
  const { enqueue, pending, error } = useEnqueue();
  const [type, setType] = useState('');
  const [input, setInput] = useState('');
  const [priority, setPriority] = useState('');
  const [delayMs, setDelayMs] = useState('');
  const [parseError, setParseError] = useState<string | null>(null);

  const task = tasks?.find((t) => t.name === type);
  useEffect(() => {
    if (!tasks?.length || type) return;
    const first = tasks.find((t) => t.name === DEFAULT_TASK) ?? tasks[0]!;
    setType(first.name);
    setInput(json(exampleInput(first)));
  }, [tasks, type]);

  if (!canOperate) {
    return (
      <section class="panel">
        <h2>Enqueue</h2>
        <p>{me ? `${me.name} is a ${me.role}: enqueuing needs an operator or admin token.` : 'Enqueuing needs an operator or admin token.'}</p>
      </section>
    );
  }
  if (tasksError) return <p role="alert">Cannot list the tasks: {tasksError.message}</p>;
  if (!tasks) return <p role="status">Loading…</p>;

  const submit = async (event: Event) => {
    event.preventDefault();
    let parsed: unknown;
    try {
      parsed = JSON.parse(input);
    } catch (failure) {
      setParseError(`The input is not JSON: ${(failure as Error).message}`);
      return;
    }
    setParseError(null);
    const id = await enqueue(type, parsed, {
      priority: priority ? Number(priority) : undefined,
      delayMs: delayMs ? Number(delayMs) : undefined,
    });
    if (id) navigate(`/jobs/${id}`);
  };

  const issues = error?.errors.flatMap((e) => e.extensions?.issues ?? []) ?? [];
  return (
    <section class="panel" aria-labelledby="enqueue-title">
      <h2 id="enqueue-title">Enqueue a job</h2>
      <form class={styles.form} onSubmit={(event) => void submit(event)}>
        <label>
          Task
          <select
            value={type}
            onChange={(event) => {
              const next = tasks.find((t) => t.name === event.currentTarget.value);
              if (!next) return;
              setType(next.name);
              setInput(json(exampleInput(next)));
            }}
          >
            {tasks.map((t) => (
              <option key={t.name} value={t.name}>
                {t.name} ({t.phase})
              </option>
            ))}
          </select>
          {task?.description && <span class={styles.hint}>{task.description}</span>}
        </label>
        <label>
          Input (JSON)
          <textarea class={styles.input} spellcheck={false} value={input} onInput={(event) => setInput(event.currentTarget.value)} />
          {task && (
            <span class={styles.hint}>
              Fields: {Object.keys(task.inputSchema.properties ?? {}).join(', ') || 'none'}
              {task.maxAttempts ? ` · up to ${task.maxAttempts} attempts` : ''}
              {task.timeoutMs ? ` · times out after ${task.timeoutMs} ms` : ''}
            </span>
          )}
        </label>
        <div class={styles.row}>
          <label>
            Priority <span class={styles.hint}>optional, −1000…1000</span>
            <input type="number" min={-1000} max={1000} value={priority} onInput={(event) => setPriority(event.currentTarget.value)} />
          </label>
          <label>
            Delay (ms) <span class={styles.hint}>optional</span>
            <input type="number" min={0} value={delayMs} onInput={(event) => setDelayMs(event.currentTarget.value)} />
          </label>
        </div>
        {(parseError || error) && (
          <div role="alert" class={styles.problems}>
            <p>{parseError ?? error?.message}</p>
            {issues.length > 0 && (
              <ul>
                {issues.map((issue) => (
                  <li key={issue.path}>
                    <code>{issue.path}</code>: {issue.message}
                  </li>
                ))}
              </ul>
            )}
          </div>
        )}
        <div>
          <button type="submit" class="primary" disabled={pending || !type}>
            {pending ? 'Enqueuing…' : 'Enqueue'}
          </button>
        </div>
      </form>
    </section>
  );
}
