/**
 * Shared limits, as a process uses them: `take` waits until the limit grants (its budget has room,
 * a concurrency slot is free, no pause holds it) and returns a permit, which gives the slot back
 * and settles the tokens when the work is done; `pause` stops the limit for every process (a
 * provider's Retry-After). The state is in the ledger (ledger/limits.ts); this process renews its
 * leases while it holds or waits, so a process killed meanwhile gives them back within the lease
 * (STALE_AFTER_MS). A take made inside a job's handler writes in the job's history that it waited.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../../lib/logger.ts';
import { errorText } from '../../lib/errors.ts';
import { currentJob } from '../job-scope.ts';
import type { LimitLedger, LimitUsage, WaitReason } from '../ledger/limits.ts';
import { describeRate, type ResolvedLimit } from './definition.ts';

export interface Permit {
  /** Gives the slot back and puts the tokens used (when known) in place of the estimate. Never throws. */
  done(usedTokens?: number): Promise<void>;
}

export interface TakeOptions {
  /** Tokens this use is expected to cost (settled by `done`). */
  tokens?: number;
  signal?: AbortSignal;
}

/** A limit now: what it allows and what is taken. */
export interface LimitState extends LimitUsage {
  readonly limit: ResolvedLimit;
}

/** What a process hears of its own waits (for /metrics). */
export type WaitListener = (limit: string, seconds: number, why: WaitReason) => void;

export class UnknownLimitError extends Error {
  readonly code = 'UNKNOWN_LIMIT';
  constructor(name: string, known: readonly string[]) {
    super(`No limit named "${name}" (known: ${known.join(', ') || 'none'})`);
  }
}

export interface LimitsOptions {
  ledger: LimitLedger;
  limits: readonly ResolvedLimit[];
  /** How long a lease lives unless renewed: a killed holder's slot comes back after this. */
  leaseMs: number;
  logger: Logger;
}

export class Limits {
  readonly #opts: LimitsOptions;
  readonly #byName: Map<string, ResolvedLimit>;
  /** This process's live leases (held slots, waiters), by limit, renewed together. */
  readonly #leases = new Map<string, Set<string>>();
  readonly #listeners = new Set<WaitListener>();
  #renewer: NodeJS.Timeout | undefined;

  constructor(opts: LimitsOptions) {
    this.#opts = opts;
    this.#byName = new Map(opts.limits.map((l) => [l.name, l]));
  }

  get all(): readonly ResolvedLimit[] {
    return this.#opts.limits;
  }

  has(name: string): boolean {
    return this.#byName.has(name);
  }

  get(name: string): ResolvedLimit {
    const limit = this.#byName.get(name);
    if (!limit) throw new UnknownLimitError(name, [...this.#byName.keys()]);
    return limit;
  }

  onWait(listener: WaitListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Waits until `name` grants one request (and `tokens`), then returns the permit. */
  async take(name: string, opts: TakeOptions = {}): Promise<Permit> {
    const limit = this.get(name);
    const { ledger, leaseMs } = this.#opts;
    const holder = randomUUID();
    const job = currentJob();
    const tokens = Math.max(0, Math.round(opts.tokens ?? 0));
    let waitingSince: number | undefined;
    let lastWhy: WaitReason | undefined;
    this.#lease(name, holder);
    try {
      for (;;) {
        opts.signal?.throwIfAborted();
        const outcome = await ledger.take({ limit: name, holder, jobId: job?.jobId ?? null, requests: 1, tokens, bounds: limit.bounds, leaseMs });
        if (outcome.granted) break;
        if (waitingSince === undefined) waitingSince = Date.now();
        if (outcome.why !== lastWhy) {
          lastWhy = outcome.why;
          await job?.log(`waiting on limit ${name}: ${waitText(limit, outcome.why, outcome.pausedUntil)}`, { limit: name, why: outcome.why });
        }
        // Short enough to renew this waiter's lease; shorter where a holder may give back early
        // (a slot, or tokens settled below their estimate) than where time alone frees the limit.
        const cap = outcome.why === 'concurrency' || outcome.why === 'tokens' ? 250 : leaseMs / 3;
        await sleep(Math.min(outcome.waitMs + Math.floor(Math.random() * 20), cap), undefined, opts.signal ? { signal: opts.signal } : {});
      }
    } catch (error) {
      this.#unlease(name, holder);
      await ledger.release(name, holder).catch(() => {});
      throw error;
    }
    if (!limit.concurrency) this.#unlease(name, holder);
    if (waitingSince !== undefined) {
      const seconds = (Date.now() - waitingSince) / 1_000;
      for (const listener of this.#listeners) listener(name, seconds, lastWhy!);
      await job?.log(`waited ${seconds.toFixed(1)} s on limit ${name}`, { limit: name, waitedMs: Math.round(seconds * 1_000) });
    }
    let done = false;
    return {
      done: async (usedTokens) => {
        if (done) return;
        done = true;
        try {
          if (limit.requests || limit.tokens) await ledger.settle(holder, usedTokens ?? null);
          if (limit.concurrency) {
            this.#unlease(name, holder);
            await ledger.release(name, holder);
          }
        } catch (error) {
          // The lease runs out by itself; the estimate stays counted.
          this.#opts.logger.warn({ err: error, limit: name }, `could not give back a take of limit ${name}: ${errorText(error)}`);
        }
      },
    };
  }

  /** Pauses `name` for every process for `forMs`; returns until when (a later pause already set stays). */
  async pause(name: string, forMs: number, reason: string): Promise<Date> {
    this.get(name);
    const until = await this.#opts.ledger.pause(name, forMs, reason);
    this.#opts.logger.warn({ limit: name, until, reason }, `limit ${name} paused until ${until.toISOString()}`);
    return until;
  }

  async resume(name: string): Promise<void> {
    this.get(name);
    await this.#opts.ledger.resume(name);
  }

  /** Every limit with what is taken of it now. */
  async states(): Promise<LimitState[]> {
    const limits = this.#opts.limits;
    const usage = await this.#opts.ledger.usage(
      limits.map((l) => ({ name: l.name, requestsWindowMs: l.requests?.perMs ?? 0, tokensWindowMs: l.tokens?.perMs ?? 0 })),
    );
    return usage.map((u) => ({ ...u, limit: this.get(u.name) }));
  }

  close(): void {
    clearInterval(this.#renewer);
    this.#renewer = undefined;
  }

  #lease(name: string, holder: string): void {
    let holders = this.#leases.get(name);
    if (!holders) this.#leases.set(name, (holders = new Set()));
    holders.add(holder);
    this.#renewer ??= setInterval(() => void this.#renew(), this.#opts.leaseMs / 3).unref();
  }

  #unlease(name: string, holder: string): void {
    const holders = this.#leases.get(name);
    holders?.delete(holder);
    if (holders?.size === 0) this.#leases.delete(name);
    if (this.#leases.size === 0) this.close();
  }

  async #renew(): Promise<void> {
    for (const [name, holders] of this.#leases) {
      await this.#opts.ledger.renew(name, [...holders], this.#opts.leaseMs).catch((error: unknown) => {
        this.#opts.logger.warn({ err: error, limit: name }, 'could not renew limit leases; they run out unless the next renewal succeeds');
      });
    }
  }
}

function waitText(limit: ResolvedLimit, why: WaitReason, pausedUntil: Date | null): string {
  switch (why) {
    case 'paused':
      return `paused until ${pausedUntil?.toISOString() ?? 'later'}`;
    case 'concurrency':
      return `all ${limit.concurrency} slots taken`;
    case 'requests':
      return `${describeRate(limit.requests!)} requests spent`;
    case 'tokens':
      return `${describeRate(limit.tokens!)} tokens spent`;
  }
}
