// A look inside one job's ledger statements (not one of the five `npm run bench` runs; evidence
// for BENCHMARKS.md): on a database of its own, times createJob / claim / complete as the Ledger
// sends them (unnamed statements: parsed and planned every time), the same SQL as named prepared
// statements, their planning vs execution time (EXPLAIN ANALYZE), and a bare round trip.
// Usage: npx tsx bench/ledger-sql.ts
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { openLedger } from '../src/db/client.ts';
import { Ledger } from '../src/jobs/ledger/index.ts';
import { createBenchDatabase, envInt, machineInfo, printMachine, runMain, summarize, table } from './lib.ts';

const N = envInt('BENCH_LEDGER_N', 500);

async function main(): Promise<void> {
  printMachine(await machineInfo());
  const db = await createBenchDatabase();
  try {
    const ldb = await openLedger({ databaseUrl: db.url, poolMax: 1 });
    const ledger = new Ledger(ldb);
    // Capture the exact SQL and parameters the Ledger sends.
    const sent: [string, unknown[]][] = [];
    const query = ldb.query;
    (ldb as { query: typeof ldb.query }).query = ((sql: string, params?: unknown[]) => {
      sent.push([sql, params ?? []]);
      return query(sql, params);
    }) as typeof ldb.query;
    const newJob = () => ({ type: 'bench.noop', phase: 'TEST_EXECUTION' as const, input: {}, maxAttempts: 4, backend: 'INLINE' as const });
    const timings: Record<string, number[]> = { createJob: [], claim: [], complete: [] };
    for (let i = 0; i < N; i++) {
      let t = performance.now();
      const { job } = await ledger.transitions.createJob(newJob());
      timings.createJob!.push(performance.now() - t);
      t = performance.now();
      await ledger.transitions.claim(job.id, 'bench-worker');
      timings.claim!.push(performance.now() - t);
      t = performance.now();
      await ledger.transitions.complete(job.id, 'bench-worker', null);
      timings.complete!.push(performance.now() - t);
    }
    const [createSql, claimSql, completeSql] = sent.slice(-3);
    await ldb.close();

    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      // The same three statements, as named prepared statements (parsed and planned once per connection).
      const prepared: Record<string, number[]> = { createJob: [], claim: [], complete: [] };
      for (let i = 0; i < N; i++) {
        const id = randomUUID();
        const p0 = [...createSql![1]];
        p0[0] = id;
        let t = performance.now();
        await client.query({ name: 'createJob', text: createSql![0], values: p0 });
        prepared.createJob!.push(performance.now() - t);
        t = performance.now();
        await client.query({ name: 'claim', text: claimSql![0], values: swapId(claimSql![1], id) });
        prepared.claim!.push(performance.now() - t);
        t = performance.now();
        await client.query({ name: 'complete', text: completeSql![0], values: swapId(completeSql![1], id) });
        prepared.complete!.push(performance.now() - t);
      }
      // Planning vs execution of each (on a fresh job).
      const explain: Record<string, string> = {};
      const id = randomUUID();
      const p0 = [...createSql![1]];
      p0[0] = id;
      for (const [name, sql, params] of [
        ['createJob', createSql![0], p0],
        ['claim', claimSql![0], swapId(claimSql![1], id)],
        ['complete', completeSql![0], swapId(completeSql![1], id)],
      ] as const) {
        const plan = await client.query<{ 'QUERY PLAN': string }>(`EXPLAIN (ANALYZE, SUMMARY) ${sql}`, [...params]);
        explain[name] = plan.rows.map((r) => r['QUERY PLAN']).filter((l) => /Planning Time|Execution Time/.test(l)).map((l) => l.trim()).join('; ');
      }
      const bare: number[] = [];
      for (let i = 0; i < N; i++) {
        const t = performance.now();
        await client.query('SELECT 1');
        bare.push(performance.now() - t);
      }
      const tiny: number[] = [];
      for (let i = 0; i < N; i++) {
        const t = performance.now();
        await client.query('UPDATE "Worker" SET "heartbeatAt" = now() WHERE id = $1', ['none']);
        tiny.push(performance.now() - t);
      }
      const tinyWrite: number[] = [];
      await client.query(`INSERT INTO "Worker" (id, hostname, pid, backend, concurrency) VALUES ('bench', 'h', 1, 'INLINE', 1)`);
      for (let i = 0; i < N; i++) {
        const t = performance.now();
        await client.query('UPDATE "Worker" SET "heartbeatAt" = now() WHERE id = $1', ['bench']);
        tinyWrite.push(performance.now() - t);
      }
      const fmtS = (v: number[]) => {
        const s = summarize(v);
        return `${s.p50.toFixed(3)} / ${s.p99.toFixed(3)}`;
      };
      console.log(`\nledger statements one at a time, one connection, ${N} each (ms, p50 / p99):\n`);
      console.log(
        table(
          ['statement', 'as the Ledger sends it', 'named prepared', 'EXPLAIN ANALYZE'],
          (['createJob', 'claim', 'complete'] as const).map((k) => [k, fmtS(timings[k]!), fmtS(prepared[k]!), explain[k] ?? '']),
        ),
      );
      console.log(
        '\n' +
          table(
            ['round trip', 'ms p50 / p99'],
            [
              ['SELECT 1', fmtS(bare)],
              ['UPDATE matching no row (no WAL flush)', fmtS(tiny)],
              ['UPDATE of one row, autocommit (WAL flush)', fmtS(tinyWrite)],
            ],
          ),
      );
    } finally {
      await client.end();
    }
  } finally {
    await db.drop();
  }
}

/** The statement's parameters with the job id (a UUID parameter) replaced by `id`. */
function swapId(params: unknown[], id: string): unknown[] {
  return params.map((v) => (typeof v === 'string' && /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(v) ? id : v));
}

runMain(main);
