import { JOB_STATUSES, type JobStatus, type Limit, type QueueInfo } from '../../api/operations.ts';
import { formatClock, formatDuration } from '../../format.ts';
import { useQueueInfo } from '../../hooks/useQueueInfo.ts';
import { useThroughput } from '../../hooks/useThroughput.ts';
import { Link } from '../Link/Link.tsx';
import { StatusBadge } from '../StatusBadge/StatusBadge.tsx';
import { ThroughputChart } from '../ThroughputChart/ThroughputChart.tsx';
import styles from './Overview.module.css';

/** The system at a glance: backend and why, probes, fail-over, bus, ledger, workers, counts, throughput. */
export function Overview() {
  const { info, limits, fetchedAt, error, refresh } = useQueueInfo();
  const throughput = useThroughput();

  if (!info) {
    return <p role={error ? 'alert' : 'status'}>{error ? `Cannot read the queue: ${error.message}` : 'Loading…'}</p>;
  }
  return (
    <div class={styles.grid}>
      <section class="panel" aria-labelledby="backend-title">
        <h2 id="backend-title">Backend</h2>
        <dl class="facts">
          <dt>Backend</dt>
          <dd>
            <strong>{info.backend}</strong>{' '}
            <span class={info.healthy ? styles.ok : styles.bad}>{info.healthy ? '● answering' : '● not answering'}</span>
          </dd>
          <dt>Why chosen</dt>
          <dd>{info.reason}</dd>
          <dt>Fail-over</dt>
          <dd class={info.usingFallback ? styles.bad : undefined}>
            {info.usingFallback ? `in use: jobs run in process while ${info.backend} is down` : 'not in use'}
          </dd>
          <dt>Event bus</dt>
          <dd>{info.eventBus}</dd>
          <dt>Ledger</dt>
          <dd>{info.ledger}</dd>
          <dt>Queue</dt>
          <dd>
            <code>{info.queueName}</code>
            {info.queue && (
              <span class={styles.note}>
                {' '}
                · waiting {info.queue.waiting} · delayed {info.queue.delayed} · active {info.queue.active}
              </span>
            )}
          </dd>
        </dl>
      </section>

      <section class="panel" aria-labelledby="probes-title">
        <h2 id="probes-title">Probes</h2>
        <table>
          <thead>
            <tr>
              <th scope="col">backend</th>
              <th scope="col">state</th>
              <th scope="col">detail</th>
              <th scope="col" class={styles.num}>latency</th>
            </tr>
          </thead>
          <tbody>
            {info.probes.map((probe) => (
              <tr key={probe.backend}>
                <td>{probe.backend}</td>
                <td class={probe.ok ? styles.ok : styles.bad}>{probe.ok ? 'ok' : 'down'}</td>
                <td>{probe.detail}</td>
                <td class={styles.num}>{formatDuration(probe.latencyMs)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>

      <Workers info={info} fetchedAt={fetchedAt ?? Date.now()} onRefresh={refresh} />

      {limits.length > 0 && <Limits limits={limits} />}

      <JobCounts info={info} />

      <section class={`panel ${styles.wide}`} aria-labelledby="throughput-title">
        <h2 id="throughput-title">Throughput</h2>
        {throughput.error ? (
          <p role="alert">Cannot read finished jobs: {throughput.error.message}</p>
        ) : throughput.loading ? (
          <p role="status">Loading…</p>
        ) : (
          <>
            <ThroughputChart buckets={throughput.buckets} />
          </>
        )}
      </section>
    </div>
  );
}

function Workers({ info, fetchedAt, onRefresh }: { info: QueueInfo; fetchedAt: number; onRefresh: () => void }) {
  return (
    <section class={`panel ${styles.wide}`} aria-labelledby="workers-title">
      <h2 id="workers-title">Workers</h2>
      {info.workers.length === 0 ? (
        <p class={styles.note}>No worker has sent a heartbeat lately.</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th scope="col">worker</th>
              <th scope="col">host</th>
              <th scope="col">backend</th>
              <th scope="col" class={styles.num}>running</th>
              <th scope="col" class={styles.num}>concurrency</th>
              <th scope="col" class={styles.num}>heartbeat age</th>
            </tr>
          </thead>
          <tbody>
            {info.workers.map((worker) => (
              <tr key={worker.id}>
                <td>
                  <code>{worker.id}</code>
                </td>
                <td>
                  {worker.hostname}:{worker.pid}
                </td>
                <td>{worker.backend}</td>
                <td class={styles.num}>{worker.running}</td>
                <td class={styles.num}>{worker.concurrency}</td>
                <td class={styles.num}>{formatDuration(Math.max(0, fetchedAt - Date.parse(worker.heartbeatAt)))}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <p class={styles.note}>
        As read at {formatClock(fetchedAt)} (read again whenever a job changes).{' '}
        <button type="button" class="link" onClick={onRefresh}>
          Refresh
        </button>
      </p>
    </section>
  );
}

function JobCounts({ info }: { info: QueueInfo }) {
  const byStatus = new Map<JobStatus, number>();
  const byTask = new Map<string, Map<JobStatus, number>>();
  for (const { status, type, count } of info.jobCounts) {
    byStatus.set(status, (byStatus.get(status) ?? 0) + count);
    const row = byTask.get(type) ?? new Map<JobStatus, number>();
    row.set(status, (row.get(status) ?? 0) + count);
    byTask.set(type, row);
  }
  const tasks = [...byTask.keys()].sort();
  return (
    <section class={`panel ${styles.wide}`} aria-labelledby="counts-title">
      <h2 id="counts-title">Jobs</h2>
      <div class={styles.tiles}>
        {JOB_STATUSES.map((status) => (
          <Link key={status} to={`/jobs?status=${status}`} class={styles.tile} title={`Jobs ${status}`}>
            <span class={styles.tileCount} data-status={status}>
              {byStatus.get(status) ?? 0}
            </span>
            <StatusBadge status={status} />
          </Link>
        ))}
      </div>
      <Retention retention={info.retention} />
      {tasks.length > 0 && (
        <table aria-label="Jobs per task and status">
          <thead>
            <tr>
              <th scope="col">task</th>
              {JOB_STATUSES.map((status) => (
                <th scope="col" key={status} class={styles.num}>
                  {status.toLowerCase()}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {tasks.map((task) => (
              <tr key={task}>
                <td>
                  <Link to={`/jobs?type=${encodeURIComponent(task)}`}>{task}</Link>
                </td>
                {JOB_STATUSES.map((status) => {
                  const count = byTask.get(task)?.get(status) ?? 0;
                  return (
                    <td key={status} class={`${styles.num} ${count ? '' : styles.zero}`}>
                      {count}
                    </td>
                  );
                })}
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

/** The shared limits: what each allows, what is taken now, a pause, who waits. */
function Limits({ limits }: { limits: Limit[] }) {
  return (
    <section class={`panel ${styles.wide}`} aria-labelledby="limits-title">
      <h2 id="limits-title">Limits</h2>
      <table aria-label="Shared limits">
        <thead>
          <tr>
            <th scope="col">limit</th>
            <th scope="col">requests</th>
            <th scope="col">tokens</th>
            <th scope="col">at once</th>
            <th scope="col" class={styles.num}>waiting</th>
            <th scope="col">state</th>
          </tr>
        </thead>
        <tbody>
          {limits.map((limit) => (
            <tr key={limit.name} data-testid={`limit-${limit.name}`}>
              <td title={limit.description ?? undefined}>{limit.name}</td>
              <td>{limit.requests ? `${limit.requestsUsed} of ${limit.requests.text}` : 'unbounded'}</td>
              <td>{limit.tokens ? `${limit.tokensUsed.toLocaleString()} of ${limit.tokens.text}` : 'unbounded'}</td>
              <td>{limit.concurrency ? `${limit.held} of ${limit.concurrency}` : 'unbounded'}</td>
              <td class={styles.num}>
                {limit.waiting}
                {limit.waitingSince && <span class={styles.note}> · longest {formatDuration(Date.now() - Date.parse(limit.waitingSince))}</span>}
              </td>
              <td class={limit.pausedUntil ? styles.bad : styles.ok}>
                {limit.pausedUntil ? `paused until ${formatClock(limit.pausedUntil)}${limit.pauseReason ? `: ${limit.pauseReason}` : ''}` : 'open'}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <p class={styles.note}>Shared by every process of the deployment (LIMITS sets the budgets). A job waiting on a limit says so in its history.</p>
    </section>
  );
}

/** How long finished jobs stay, and what retention removed: the counts above include those jobs. */
function Retention({ retention }: { retention: QueueInfo['retention'] }) {
  const { completed, failed, prunedJobs, lastPrunedAt, oldestJobAt } = retention;
  return (
    <p class={styles.note} data-testid="retention">
      Finished jobs are kept {completed === 'forever' ? 'forever' : `for ${completed}`} (failed ones {failed === 'forever' ? 'forever' : `for ${failed}`}).
      {prunedJobs > 0 && ` ${prunedJobs.toLocaleString()} removed so far, the last ${lastPrunedAt ? `at ${formatClock(lastPrunedAt)}` : 'a while ago'}; the counts include them.`}
      {oldestJobAt && ` Oldest job kept: ${formatDuration(Date.now() - Date.parse(oldestJobAt))} old.`}
    </p>
  );
}
