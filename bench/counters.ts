// Counts what this process sends to PostgreSQL (every pg client: the ledger pool, pg-boss, the
// LISTEN/NOTIFY bus), to the ledger (LedgerDb.query) and to Redis (every ioredis connection:
// BullMQ, the bus), by kind. Monkey-patching is fine in a bench.
import { Redis } from 'ioredis';
import pg from 'pg';
import type { LedgerDb } from '../src/db/client.ts';

export class Tally {
  readonly byKind = new Map<string, number>();
  total = 0;
  add(kind: string): void {
    this.total++;
    this.byKind.set(kind, (this.byKind.get(kind) ?? 0) + 1);
  }
  reset(): void {
    this.total = 0;
    this.byKind.clear();
  }
  /** Kinds by count, with their count per `per` (e.g. per job). */
  top(per = 1, limit = 12): { kind: string; count: number; perUnit: number }[] {
    return [...this.byKind.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, limit)
      .map(([kind, count]) => ({ kind, count, perUnit: count / per }));
  }
}

const kinds = new Map<string, string>();
/** Names the ledger's statements (src/jobs/ledger.ts) and the bus's; anything else by its first words. */
export function sqlKind(sql: string): string {
  let kind = kinds.get(sql);
  if (kind === undefined) {
    kind = classify(sql);
    if (kinds.size < 10_000) kinds.set(sql, kind);
  }
  return kind;
}

function classify(sql: string): string {
  // pg-boss names its schema in every statement: drop it, so statements of every schema group.
  const s = sql.replace(/\s+/g, ' ').replace(/\b[a-z_][a-z0-9_]*\.(job_common|job|queue|version|job_now|warning|bam)\b/g, '$1').trim();
  const known: [RegExp, string][] = [
    [/^WITH j AS \( INSERT INTO "Job"/, 'ledger.createJob'],
    [/^UPDATE "Job" SET "queueRef" = c\.ref/, 'ledger.confirmDispatch (batched)'],
    [/"status" = 'RUNNING', "attempt" = "attempt" \+ 1/, 'ledger.claim'],
    [/ELSE 'COMPLETED'::"JobStatus"/, 'ledger.complete'],
    [/"progress" = \$1, "message" = coalesce/, 'ledger.progress'],
    [/^UPDATE "Job" SET "dispatchedAt" = now\(\) WHERE id IN/, 'ledger.leaseUndispatched (dispatcher loop)'],
    [/^UPDATE "Job" SET "dispatchedAt" = NULL, "queueRef" = NULL WHERE id = \$1/, 'ledger.releaseDispatch'],
    [/^UPDATE "Worker" SET "heartbeatAt"/, 'ledger.heartbeat (worker row)'],
    [/^UPDATE "Job" SET "heartbeatAt" = now\(\) WHERE id = ANY/, 'ledger.heartbeat (jobs)'],
    [/^SELECT \* FROM "Job" WHERE "status" IN \('RUNNING', 'CANCELLING'\)/, 'ledger.staleJobs (reaper)'],
    [/^SELECT \* FROM "Job" WHERE id = \$1/, 'ledger.getJob'],
    [/^SELECT \* FROM "JobEvent"/, 'ledger.events'],
    [/^SELECT pg_notify\(n\.channel/, 'bus NOTIFY (batched)'],
    [/^WITH ins AS \( INSERT INTO job/, 'pg-boss send/insert (INSERT + NOTIFY)'],
    [/^INSERT INTO job/, 'pg-boss insert'],
    [/^WITH next AS \( SELECT j\.id FROM job/, 'pg-boss fetch'],
    [/^WITH results AS \( UPDATE job(_common)? SET completed_on/, 'pg-boss complete'],
    [/^WITH deleted_jobs AS \( DELETE FROM job/, 'pg-boss fail (DELETE + re-INSERT)'],
    [/^SELECT 1$/, 'SELECT 1'],
  ];
  for (const [pattern, kind] of known) if (pattern.test(s)) return kind;
  if (/^(LISTEN|UNLISTEN) /.test(s)) return s.split(' ')[0]!;
  return s.slice(0, 60);
}

export const counters = {
  /** Every statement any pg client of this process sends. */
  pg: new Tally(),
  /** Statements through LedgerDb.query (the ledger's raw SQL). */
  ledger: new Tally(),
  /** Every Redis command any ioredis connection of this process sends (pipelines included). */
  redis: new Tally(),
  /** False while setting up and tearing down: only the measured window counts. */
  on: false,
};

/** Connections of the bench's own bookkeeping, not counted. */
const ignored = new WeakSet<object>();

let installed = false;
/** Patches pg.Client and ioredis once per process. */
export function installCounters(): void {
  if (installed) return;
  installed = true;
  const clientProto = pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown };
  const query = clientProto.query;
  clientProto.query = function (this: unknown, ...args: unknown[]) {
    if (counters.on) {
      const first = args[0];
      const text = typeof first === 'string' ? first : (first as { text?: string } | undefined)?.text;
      if (typeof text === 'string') counters.pg.add(sqlKind(text));
    }
    return query.apply(this, args);
  };
  const redisProto = Redis.prototype as unknown as { sendCommand: (...args: unknown[]) => unknown };
  const sendCommand = redisProto.sendCommand;
  redisProto.sendCommand = function (this: unknown, ...args: unknown[]) {
    if (counters.on && !ignored.has(this as object)) {
      const command = args[0] as { name?: string } | undefined;
      counters.redis.add(String(command?.name ?? '?').toLowerCase());
    }
    return sendCommand.apply(this, args);
  };
}

/** Counts the ledger's statements of one JobSystem (its LedgerDb is shared by the Ledger). */
export function countLedger(db: LedgerDb): void {
  const target = db as { query: LedgerDb['query'] };
  const query = target.query;
  target.query = (<T>(sql: string, params?: unknown[], name?: string) => {
    if (counters.on) counters.ledger.add(sqlKind(sql));
    return query<T>(sql, params, name);
  }) as LedgerDb['query'];
}

/** In a bench child process: counts everything it sends from now on when BENCH_COUNT=1 (the parent reads the totals with `stats`). */
export function countChild(db: LedgerDb): void {
  if (process.env.BENCH_COUNT !== '1') return;
  installCounters();
  countLedger(db);
  counters.on = true;
}

export function resetCounters(): void {
  counters.pg.reset();
  counters.ledger.reset();
  counters.redis.reset();
}

/** Server-side Redis command totals (INFO commandstats): includes commands Lua scripts call, and every client's traffic. */
export async function redisCommandstats(redisUrl: string): Promise<Map<string, number>> {
  const r = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  ignored.add(r);
  try {
    const info = await r.info('commandstats');
    const out = new Map<string, number>();
    for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) out.set(match[1]!, Number(match[2]));
    return out;
  } finally {
    r.disconnect();
  }
}

export function statsDelta(before: Map<string, number>, after: Map<string, number>): { total: number; byCommand: Map<string, number> } {
  const byCommand = new Map<string, number>();
  let total = 0;
  for (const [name, calls] of after) {
    const d = calls - (before.get(name) ?? 0);
    if (d > 0) {
      byCommand.set(name, d);
      total += d;
    }
  }
  return { total, byCommand };
}
