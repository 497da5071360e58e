import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

/**
 * ops/: the Prometheus alert rules checked and unit-tested by promtool (Debian's `prometheus`
 * package; .ci/run installs it), and the Grafana dashboard's queries checked as PromQL by the same
 * promtool. Whether every jobgraph_ series they name is served is test/api/metrics.test.ts's (it
 * needs a ledger). Without promtool these tests fail under CI, and are skipped, saying so, elsewhere.
 */
const ops = fileURLToPath(new URL('../../ops/', import.meta.url));
const RULES = join(ops, 'prometheus/jobgraph-alerts.yml');
const RULE_TESTS = join(ops, 'prometheus/jobgraph-alerts.test.yml');
const DASHBOARD = join(ops, 'grafana/jobgraph.json');

const promtoolFound = spawnSync('promtool', ['--version'], { encoding: 'utf8' }).status === 0;
const ci = process.env.CI !== undefined && !['', '0', 'false'].includes(process.env.CI.toLowerCase());
if (!promtoolFound && !ci) {
  console.warn('alert-rules.test.ts: promtool is not installed (apt-get install prometheus): the promtool checks are skipped; under CI=true they fail');
}
/** promtool's checks: run where it is installed, fail under CI where it is not, skipped elsewhere. */
const itNeedsPromtool = it.skipIf(!promtoolFound && !ci);

function promtool(...args: string[]): void {
  if (!promtoolFound) throw new Error('promtool is not installed: .ci/run installs it (apt-get install -y prometheus)');
  const result = spawnSync('promtool', args, { encoding: 'utf8', timeout: 60_000 });
  expect(result.status, `promtool ${args.join(' ')}:\n${result.stdout}${result.stderr}${result.error?.message ?? ''}`).toBe(0);
}

interface Target {
  expr: string;
  datasource?: { uid?: string };
}
interface Panel {
  id: number;
  type: string;
  title: string;
  targets?: Target[];
  datasource?: { uid?: string };
}
const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { uid: string; panels: Panel[]; templating: { list: { name: string }[] } };
const charts = dashboard.panels.filter((panel) => panel.type !== 'row');

/** A dashboard query as plain PromQL: Grafana's interval variables as 5m, the task filter as everything. */
const asPromql = (expr: string) => expr.replaceAll(/\$__(rate_interval|interval|range)/g, '5m').replaceAll(/\$\{?task\}?/g, '.*');

describe('ops: alert rules and dashboard', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'jobgraph-ops-'));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  itNeedsPromtool('promtool check rules: the alert rules are valid', () => {
    promtool('check', 'rules', RULES);
  });

  itNeedsPromtool('promtool test rules: each alert fires where it should and stays quiet beside it', () => {
    promtool('test', 'rules', RULE_TESTS);
  });

  it('every alert has unit tests where it fires and where it does not', () => {
    const alerts = [...readFileSync(RULES, 'utf8').matchAll(/^\s*- alert: (\w+)$/gm)].map((match) => match[1]!);
    expect(alerts).toEqual(['JobgraphTaskFailureRatioHigh', 'JobgraphJobsWaitingTooLong', 'JobgraphNoLiveWorkers', 'JobgraphFallbackActive', 'JobgraphLedgerUnreachable']);
    // Each `- eval_time:` entry: its alert, and whether it expects alerts (`exp_alerts: []` expects none).
    const cases = readFileSync(RULE_TESTS, 'utf8')
      .split(/^\s*- eval_time: /m)
      .slice(1)
      .map((entry) => ({ alert: /alertname: (\w+)/.exec(entry)?.[1], fires: !/exp_alerts: \[\]/.test(entry) }));
    for (const alert of alerts) {
      const mine = cases.filter((c) => c.alert === alert);
      expect(mine.some((c) => c.fires), `${alert} is tested firing`).toBe(true);
      expect(mine.some((c) => !c.fires), `${alert} is tested quiet`).toBe(true);
    }
  });

  it('the Grafana dashboard: every chart queries the chosen Prometheus, panel ids unique', () => {
    expect(dashboard.uid).toBe('jobgraph');
    expect(dashboard.templating.list.map((variable) => variable.name)).toEqual(['datasource', 'task']);
    expect(charts.length).toBeGreaterThan(10);
    expect(new Set(dashboard.panels.map((panel) => panel.id)).size).toBe(dashboard.panels.length);
    for (const panel of charts) {
      expect(panel.targets?.length, panel.title).toBeGreaterThan(0);
      expect(panel.datasource?.uid, panel.title).toBe('${datasource}');
      for (const target of panel.targets!) expect(target.datasource?.uid, panel.title).toBe('${datasource}');
    }
    // What the issue asks to see.
    const exprs = charts.flatMap((panel) => panel.targets!.map((target) => target.expr)).join('\n');
    for (const series of ['jobgraph_jobs_finished_total', 'jobgraph_jobs{', 'jobgraph_oldest_waiting_job_age_seconds', 'jobgraph_workers', 'jobgraph_ledger_up', 'jobgraph_limit_used', 'jobgraph_gates_open']) {
      expect(exprs).toContain(series);
    }
  });

  itNeedsPromtool('the Grafana dashboard: every query is PromQL promtool parses', () => {
    // promtool parses a rule's expression: each query becomes a recording rule of a scratch file.
    const rules = charts.flatMap((panel) =>
      panel.targets!.map((target, i) => `      - record: dashboard:panel_${panel.id}_${i}\n        expr: ${JSON.stringify(asPromql(target.expr))}\n`),
    );
    const file = join(scratch, 'dashboard-queries.yml');
    writeFileSync(file, `groups:\n  - name: dashboard\n    rules:\n${rules.join('')}`);
    promtool('check', 'rules', file);
  });
});
