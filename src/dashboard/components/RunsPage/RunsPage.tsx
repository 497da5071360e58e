import { useEffect, useState } from 'preact/hooks';
import { api, type ApiError } from '../../api/client.ts';
import {
  DEMO_IDS,
  RUN_STATUSES,
  RUNS,
  START_REPORT_TESTING,
  type DemoIdsData,
  type RunsData,
  type RunStatus,
  type StartReportTestingData,
} from '../../api/operations.ts';
import { formatDateTime, shortId } from '../../format.ts';
import { useApiState } from '../../hooks/useApiState.ts';
import { navigate } from '../../hooks/useRoute.ts';
import { useViewer } from '../../hooks/useViewer.ts';
import { Link } from '../Link/Link.tsx';
import { StatusBadge } from '../StatusBadge/StatusBadge.tsx';
import styles from './RunsPage.module.css';

/** Workflow runs, newest first, with a status filter; operators start a report's testing here. */
export function RunsPage() {
  const { canOperate } = useViewer();
  const { session } = useApiState();
  const [status, setStatus] = useState<RunStatus | ''>('');
  const [data, setData] = useState<RunsData['runs'] | undefined>(undefined);
  const [error, setError] = useState<ApiError | null>(null);
  useEffect(() => {
    let current = true;
    api.request<RunsData>(RUNS, { first: 50, status: status ? [status] : null }).then(
      (next) => current && (setData(next.runs), setError(null)),
      (failure: ApiError) => current && setError(failure),
    );
    return () => {
      current = false;
    };
  }, [status, session]);
  return (
    <div>
      {canOperate && <StartForm />}
      <section class="panel" aria-labelledby="runs-title">
        <div class={styles.head}>
          <h2 id="runs-title">Runs</h2>
          <label>
            Status{' '}
            <select value={status} onChange={(event) => setStatus((event.target as HTMLSelectElement).value as RunStatus | '')}>
              <option value="">any</option>
              {RUN_STATUSES.map((value) => (
                <option key={value} value={value}>
                  {value}
                </option>
              ))}
            </select>
          </label>
        </div>
        {error && <p role="alert">Cannot read runs: {error.message}</p>}
        {data && data.nodes.length === 0 && <p>No runs{status ? ` ${status.toLowerCase()}` : ''} yet.</p>}
        {data && data.nodes.length > 0 && (
          <table>
            <thead>
              <tr>
                <th scope="col">Run</th>
                <th scope="col">Workflow</th>
                <th scope="col">Status</th>
                <th scope="col">Started by</th>
                <th scope="col">Started</th>
                <th scope="col">Why it ended</th>
              </tr>
            </thead>
            <tbody>
              {data.nodes.map((run) => (
                <tr key={run.id}>
                  <td>
                    <Link to={`/runs/${run.id}`}>{shortId(run.id)}</Link>
                  </td>
                  <td>{run.workflow}</td>
                  <td>
                    <StatusBadge status={run.status} />
                  </td>
                  <td>{run.createdBy ?? '—'}</td>
                  <td>{formatDateTime(run.createdAt)}</td>
                  <td>{run.reason ?? ''}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
    </div>
  );
}

/** Starts the report-testing run on a report and a dataset, with the sample's size, method and seed. */
function StartForm() {
  const [ids, setIds] = useState<DemoIdsData | undefined>(undefined);
  const [form, setForm] = useState({ reportId: '', datasetId: '', size: 1000, method: 'STRATIFIED', seed: 42 });
  const [pending, setPending] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  useEffect(() => {
    api.request<DemoIdsData>(DEMO_IDS).then((next) => {
      setIds(next);
      setForm((f) => ({ ...f, reportId: f.reportId || next.reports[0]?.id || '', datasetId: f.datasetId || next.datasets[0]?.id || '' }));
    }, setError);
  }, []);
  const start = async (event: Event) => {
    event.preventDefault();
    setPending(true);
    setError(null);
    try {
      const { reportId, datasetId, size, method, seed } = form;
      const data = await api.request<StartReportTestingData>(START_REPORT_TESTING, { input: { reportId, datasetId, sampling: { size, method, seed } } });
      navigate(`/runs/${data.startReportTesting.run.id}`);
    } catch (failure) {
      setError(failure as ApiError);
    } finally {
      setPending(false);
    }
  };
  const field = (name: keyof typeof form) => (event: Event) => {
    const value = (event.target as HTMLInputElement).value;
    setForm((f) => ({ ...f, [name]: typeof f[name] === 'number' ? Number(value) : value }));
  };
  return (
    <section class="panel" aria-labelledby="start-title">
      <h2 id="start-title">Test a report</h2>
      <p>Planning, scoping and its sign-off, samples, profiling, the tests and their sign-off, as one run.</p>
      <form class="field-row" onSubmit={(event) => void start(event)}>
        <label>
          Report
          <select value={form.reportId} onChange={field('reportId')} required>
            {ids?.reports.map((report) => (
              <option key={report.id} value={report.id}>
                {report.name}
              </option>
            ))}
          </select>
        </label>
        <label>
          Dataset
          <select value={form.datasetId} onChange={field('datasetId')} required>
            {ids?.datasets.map((dataset) => (
              <option key={dataset.id} value={dataset.id}>
                {dataset.name} ({dataset.recordCount} records)
              </option>
            ))}
          </select>
        </label>
        <label>
          Sample size
          <input type="number" min={1} max={100000} value={form.size} onInput={field('size')} required />
        </label>
        <label>
          Method
          <select value={form.method} onChange={field('method')}>
            {['RANDOM', 'STRATIFIED', 'RISK_BASED'].map((method) => (
              <option key={method} value={method}>
                {method}
              </option>
            ))}
          </select>
        </label>
        <label>
          Seed
          <input type="number" min={0} value={form.seed} onInput={field('seed')} required />
        </label>
        <button type="submit" class="primary" disabled={pending || !form.reportId || !form.datasetId}>
          Start testing
        </button>
      </form>
      {error && <p role="alert">{error.message}</p>}
    </section>
  );
}
