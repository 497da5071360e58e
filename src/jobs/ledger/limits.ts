/**
 * Shared limits in the ledger: what every process of a deployment takes from, so three worker
 * processes together keep to one provider's budget. A take is one call of the function
 * `jobgraph_limit_take` (migration 20261203082202_flow_limits), which locks the limit's row and
 * counts in the database's time. Leases (a held concurrency slot, a waiter) run out unless renewed,
 * so a process killed while holding gives its slot back. Takes, releases and settlements commit
 * without waiting for their WAL flush (the migration says what a crash may forget); pauses wait.
 */
import type { LedgerDb } from '../../db/client.ts';

/** What a limit allows, in the form a take needs it (0: no bound of that kind). */
export interface LimitBounds {
  maxRequests: number;
  requestsWindowMs: number;
  maxTokens: number;
  tokensWindowMs: number;
  concurrency: number;
}

export interface TakeRequest {
  limit: string;
  /** Names the take: its use, its lease while it holds or waits. */
  holder: string;
  jobId: string | null;
  requests: number;
  tokens: number;
  bounds: LimitBounds;
  leaseMs: number;
}

export type WaitReason = 'paused' | 'concurrency' | 'requests' | 'tokens';

export type TakeOutcome = { granted: true } | { granted: false; waitMs: number; why: WaitReason; pausedUntil: Date | null };

/** A limit as the ledger sees it now. */
export interface LimitUsage {
  name: string;
  pausedUntil: Date | null;
  pauseReason: string | null;
  /** Requests and tokens taken inside the windows given. */
  requests: number;
  tokens: number;
  /** Concurrency slots held, and takes waiting, by live leases. */
  held: number;
  waiting: number;
  /** Since when the longest waiter has waited. */
  waitingSince: Date | null;
}

export class LimitLedger {
  private readonly db: LedgerDb;
  constructor(db: LedgerDb) {
    this.db = db;
  }

  async take(request: TakeRequest): Promise<TakeOutcome> {
    const { bounds } = request;
    const [row] = await this.db.query<{ granted: boolean; wait_ms: number; why: WaitReason | null; paused_until: Date | null }>(
      'SELECT * FROM jobgraph_limit_take($1, $2::uuid, $3::uuid, $4, $5, $6, $7, $8, $9, $10, $11)',
      [
        request.limit,
        request.holder,
        request.jobId,
        request.requests,
        request.tokens,
        bounds.maxRequests,
        bounds.requestsWindowMs,
        bounds.maxTokens,
        bounds.tokensWindowMs,
        bounds.concurrency,
        request.leaseMs,
      ],
      'limit_take',
    );
    if (!row) throw new Error(`jobgraph_limit_take returned nothing for limit ${request.limit}`);
    return row.granted ? { granted: true } : { granted: false, waitMs: row.wait_ms, why: row.why!, pausedUntil: row.paused_until };
  }

  /**
   * A use is over: it counts from now (its request reached the provider at some point between its
   * take and now, so counting from the later time keeps every window the provider sees within the
   * budget, however long the request took to leave), and with the provider's count of tokens in
   * place of the estimate when given.
   */
  async settle(holder: string, tokens: number | null): Promise<void> {
    await this.db.query('SELECT jobgraph_limit_settle($1::uuid, $2::int)', [holder, tokens === null ? null : Math.max(0, Math.round(tokens))], 'limit_settle');
  }

  /** Ends a lease: a slot given back, or a waiter that stopped waiting. */
  async release(limit: string, holder: string): Promise<void> {
    await this.db.query('SELECT jobgraph_limit_release($1, $2::uuid)', [limit, holder], 'limit_release');
  }

  /** Keeps leases alive for another `leaseMs`; returns how many still existed. */
  async renew(limit: string, holders: string[], leaseMs: number): Promise<number> {
    if (holders.length === 0) return 0;
    const rows = await this.db.query(
      `UPDATE "FlowLimitLease" SET "expiresAt" = clock_timestamp() + make_interval(secs => $3::float8 / 1000)
        WHERE "limit" = $1 AND "holder" = ANY($2::uuid[]) RETURNING 1`,
      [limit, holders, leaseMs],
      'limit_renew',
    );
    return rows.length;
  }

  /**
   * Pauses the limit for every process until `forMs` from now (database time), or keeps a later
   * pause already set; returns when it is paused until.
   */
  async pause(limit: string, forMs: number, reason: string): Promise<Date> {
    const [row] = await this.db.query<{ pausedUntil: Date }>(
      `INSERT INTO "FlowLimit" AS l ("name", "pausedUntil", "pauseReason")
       VALUES ($1, clock_timestamp() + make_interval(secs => $2::float8 / 1000), $3)
       ON CONFLICT ("name") DO UPDATE
         SET "pausedUntil" = greatest(coalesce(l."pausedUntil", excluded."pausedUntil"), excluded."pausedUntil"),
             "pauseReason" = CASE WHEN l."pausedUntil" IS NULL OR excluded."pausedUntil" >= l."pausedUntil" THEN excluded."pauseReason" ELSE l."pauseReason" END
       RETURNING "pausedUntil"`,
      [limit, Math.max(0, forMs), reason],
    );
    return row!.pausedUntil;
  }

  /** Lifts a pause at once (an operator's call). */
  async resume(limit: string): Promise<void> {
    await this.db.query('UPDATE "FlowLimit" SET "pausedUntil" = NULL, "pauseReason" = NULL WHERE "name" = $1', [limit]);
  }

  /** Each limit's state, counting uses inside `windowMs` (per limit: requests, tokens). */
  async usage(limits: { name: string; requestsWindowMs: number; tokensWindowMs: number }[]): Promise<LimitUsage[]> {
    if (limits.length === 0) return [];
    const rows = await this.db.query<{
      name: string;
      pausedUntil: Date | null;
      pauseReason: string | null;
      requests: string | number;
      tokens: string | number;
      held: string | number;
      waiting: string | number;
      waitingSince: Date | null;
    }>(
      `WITH wanted AS (SELECT * FROM unnest($1::text[], $2::float8[], $3::float8[]) AS w(name, req_ms, tok_ms))
       SELECT w.name,
         CASE WHEN l."pausedUntil" > clock_timestamp() THEN l."pausedUntil" END AS "pausedUntil",
         CASE WHEN l."pausedUntil" > clock_timestamp() THEN l."pauseReason" END AS "pauseReason",
         (SELECT coalesce(sum(u."requests"), 0) FROM "FlowLimitUse" u WHERE u."limit" = w.name
             AND u."at" > clock_timestamp() - make_interval(secs => w.req_ms / 1000)) AS requests,
         (SELECT coalesce(sum(u."tokens"), 0) FROM "FlowLimitUse" u WHERE u."limit" = w.name
             AND u."at" > clock_timestamp() - make_interval(secs => w.tok_ms / 1000)) AS tokens,
         (SELECT count(*) FROM "FlowLimitLease" e WHERE e."limit" = w.name AND e."holding" AND e."expiresAt" > clock_timestamp()) AS held,
         (SELECT count(*) FROM "FlowLimitLease" e WHERE e."limit" = w.name AND NOT e."holding" AND e."expiresAt" > clock_timestamp()) AS waiting,
         (SELECT min(e."since") FROM "FlowLimitLease" e WHERE e."limit" = w.name AND NOT e."holding" AND e."expiresAt" > clock_timestamp()) AS "waitingSince"
       FROM wanted w LEFT JOIN "FlowLimit" l ON l."name" = w.name
       ORDER BY w.name`,
      [limits.map((l) => l.name), limits.map((l) => l.requestsWindowMs), limits.map((l) => l.tokensWindowMs)],
    );
    return rows.map((row) => ({
      name: row.name,
      pausedUntil: row.pausedUntil ? new Date(row.pausedUntil) : null,
      pauseReason: row.pauseReason,
      requests: Number(row.requests),
      tokens: Number(row.tokens),
      held: Number(row.held),
      waiting: Number(row.waiting),
      waitingSince: row.waitingSince ? new Date(row.waitingSince) : null,
    }));
  }
}
