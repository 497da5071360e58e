import { useEffect, useState } from 'preact/hooks';
import { api, type ApiError } from '../../api/client.ts';
import { REVIEW, type ReviewData } from '../../api/operations.ts';
import styles from './RunReview.module.css';

type Report = NonNullable<ReviewData['report']>;
type Profile = NonNullable<NonNullable<ReviewData['dataset']>['profile']>;
/** A column of a dataset profile, as the profiler writes it (src/domain/profiling-stats.ts). */
interface ColumnStats {
  column: string;
  count: number;
  nullRate: number;
  distinct: number;
  distinctExact?: boolean;
  min?: unknown;
  max?: unknown;
  topValues?: { value: string; count: number }[];
}

/**
 * What a reviewer signs off on, as they read it: the attributes with their mappings and scope
 * decisions, the sample, the dataset's profile per column, the test results with failures first.
 * Read again whenever a step of the run completes (`version`).
 */
export function RunReview({ reportId, datasetId, version }: { reportId: string; datasetId: string; version: number }) {
  const [data, setData] = useState<ReviewData | undefined>(undefined);
  const [error, setError] = useState<ApiError | null>(null);
  useEffect(() => {
    let current = true;
    api.request<ReviewData>(REVIEW, { reportId, datasetId }).then(
      (next) => current && (setData(next), setError(null)),
      (failure: ApiError) => current && setError(failure),
    );
    return () => {
      current = false;
    };
  }, [reportId, datasetId, version]);
  if (error) return <p role="alert">Cannot read what the run made: {error.message}</p>;
  if (!data?.report) return null;
  const { report, dataset } = data;
  const testRun = report.testRuns.find((run) => run.datasetId === datasetId);
  return (
    <>
      {report.attributes.length > 0 && <Scope report={report} />}
      {report.samples.length > 0 && (
        <section class="panel" aria-labelledby="sample-title">
          <h2 id="sample-title">Sample</h2>
          <p>
            {report.sampleCount} records of {dataset?.name ?? 'the dataset'} ({dataset?.recordCount ?? '?'} in all), {report.samples[0]!.method}, seed {report.samples[0]!.seed}.
            First rows: {report.samples.map((sample) => `#${sample.row}${sample.stratum ? ` (${sample.stratum})` : ''}`).join(', ')}.
          </p>
        </section>
      )}
      {dataset?.profile && <ProfileTable profile={dataset.profile} />}
      {testRun && (
        <section class="panel" aria-labelledby="results-title">
          <h2 id="results-title">Test results</h2>
          <p>
            {testRun.total} checks: <strong>{testRun.failed} failed</strong>, {testRun.passed} passed.
          </p>
          {testRun.results.length > 0 && (
            <table>
              <caption class={styles.caption}>Failures first (the first {testRun.results.length})</caption>
              <thead>
                <tr>
                  <th scope="col">Row</th>
                  <th scope="col">Attribute</th>
                  <th scope="col">Rule</th>
                  <th scope="col">Severity</th>
                  <th scope="col">Why</th>
                </tr>
              </thead>
              <tbody>
                {testRun.results.map((result) => (
                  <tr key={`${result.row}-${result.attribute}-${result.rule.kind}`}>
                    <td>{result.row}</td>
                    <td>{result.attribute}</td>
                    <td>
                      {result.rule.kind} <code>{result.rule.column}</code>
                    </td>
                    <td>{result.rule.severity}</td>
                    <td>{result.message}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </section>
      )}
    </>
  );
}

function Scope({ report }: { report: Report }) {
  const inScope = report.attributes.filter((a) => a.recommendation?.decision === 'IN_SCOPE').length;
  const decided = report.attributes.some((a) => a.recommendation);
  return (
    <section class="panel" aria-labelledby="scope-title">
      <h2 id="scope-title">Attributes, mappings and scope</h2>
      {decided && (
        <p>
          {inScope} of {report.attributes.length} attributes in scope.
        </p>
      )}
      <table>
        <thead>
          <tr>
            <th scope="col">Attribute</th>
            <th scope="col">Mapped to</th>
            <th scope="col">Scope</th>
            <th scope="col">Risk</th>
            <th scope="col">Rules</th>
          </tr>
        </thead>
        <tbody>
          {report.attributes.map((attribute) => (
            <tr key={attribute.id}>
              <td>
                {attribute.name}
                {attribute.isKey ? ' · key' : ''}
                {attribute.isCritical ? ' · critical' : ''}
              </td>
              <td>{attribute.mappings.map((m) => `${m.dataElement.table}.${m.dataElement.column}`).join(', ') || '—'}</td>
              <td title={attribute.recommendation?.rationale ?? undefined}>{attribute.recommendation?.decision.replace('_', ' ').toLowerCase() ?? '—'}</td>
              <td>{attribute.recommendation ? attribute.recommendation.riskScore.toFixed(2) : '—'}</td>
              <td>{attribute.rules.length || '—'}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

function ProfileTable({ profile }: { profile: Profile }) {
  const columns = profile.columns as ColumnStats[];
  return (
    <section class="panel" aria-labelledby="profile-title">
      <h2 id="profile-title">Dataset profile</h2>
      <p>{profile.rows} rows profiled.</p>
      <table>
        <thead>
          <tr>
            <th scope="col">Column</th>
            <th scope="col">Nulls</th>
            <th scope="col">Distinct</th>
            <th scope="col">Min</th>
            <th scope="col">Max</th>
            <th scope="col">Top values</th>
          </tr>
        </thead>
        <tbody>
          {columns.map((stats) => (
            <tr key={stats.column}>
              <td>
                <code>{stats.column}</code>
              </td>
              <td>
                <Bar share={stats.nullRate} label={`${(stats.nullRate * 100).toFixed(1)}%`} />
              </td>
              <td>
                {stats.distinctExact === false ? '≈' : ''}
                {stats.distinct}
              </td>
              <td>{show(stats.min)}</td>
              <td>{show(stats.max)}</td>
              <td>
                {(stats.topValues ?? []).slice(0, 3).map((top) => (
                  <Bar key={top.value} share={stats.count ? top.count / stats.count : 0} label={`${top.value} (${top.count})`} />
                ))}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

/** A small horizontal bar for a share (0–1), with its label in words. */
function Bar({ share, label }: { share: number; label: string }) {
  return (
    <div class={styles.barRow}>
      <span class={styles.bar} aria-hidden="true">
        <span class={styles.barFill} style={{ width: `${Math.round(Math.max(0, Math.min(1, share)) * 100)}%` }} />
      </span>
      <span>{label}</span>
    </div>
  );
}

const show = (value: unknown) => (value === undefined || value === null ? '—' : String(value).slice(0, 24));
