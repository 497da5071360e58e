import { randomUUID } from 'node:crypto';
import { refuseUnfit } from './errors.ts';
import { priorityWithRank, type DeliveryHandler, type Dispatch, type ProbeResult, type QueueAdapter, type QueueCapabilities, type QueueCounts } from './types.ts';

/** One waiting delivery. */
interface Entry {
  ref: string;
  key: string;
  jobId: string;
  priority: number;
  order: number;
}

const capabilities: QueueCapabilities = {
  durable: false,
  deduplicates: true,
  remove: true,
  // setTimeout's longest delay (about 24.8 days); a job due later waits in the ledger.
  maxDelayMs: 2_147_483_647,
  priorityLevels: 2001,
  shared: false,
};

/**
 * The in-process queue: a priority queue in memory, timers for delays, a concurrency limit.
 * It keeps nothing itself: after a restart the core finds the ledger's queued INLINE jobs and
 * dispatches them again.
 */
export function createInlineAdapter(): QueueAdapter {
  const ready: Entry[] = [];
  const delayed = new Map<string, { entry: Entry; timer: NodeJS.Timeout }>();
  const inFlight = new Set<Promise<void>>();
  /** Dispatch keys of entries waiting, delayed or being delivered, with their refs: enqueue is idempotent by key. */
  const held = new Map<string, string>();
  let handler: DeliveryHandler | undefined;
  let concurrency = 0;
  let consuming = false;
  let order = 0;

  function insertReady(entry: Entry) {
    // Higher priority first, then first in, first out; a binary search keeps inserts cheap.
    let lo = 0;
    let hi = ready.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const other = ready[mid]!;
      if (other.priority > entry.priority || (other.priority === entry.priority && other.order < entry.order)) lo = mid + 1;
      else hi = mid;
    }
    ready.splice(lo, 0, entry);
    pump();
  }

  function pump() {
    while (consuming && handler && inFlight.size < concurrency && ready.length > 0) {
      const entry = ready.shift()!;
      const run: Promise<void> = handler(entry.jobId)
        .catch(() => {}) // the core records every outcome; nothing to do here
        .finally(() => {
          held.delete(entry.key);
          inFlight.delete(run);
          pump();
        });
      inFlight.add(run);
    }
  }

  return {
    name: 'inline',
    capabilities,

    async probe(): Promise<ProbeResult> {
      return { ok: true, detail: 'in-process', latencyMs: 0 };
    },

    async consume(next, limit) {
      if (handler) throw new Error('inline adapter: consume() called twice');
      handler = next;
      concurrency = limit;
      consuming = true;
      pump();
    },

    async stopConsuming() {
      consuming = false;
      await Promise.all(inFlight);
    },

    async close() {
      consuming = false;
      for (const { timer } of delayed.values()) clearTimeout(timer);
      delayed.clear();
      ready.length = 0;
      held.clear();
      await Promise.all(inFlight);
    },

    async enqueue(dispatch: Dispatch) {
      refuseUnfit(dispatch, capabilities.maxDelayMs);
      const existing = held.get(dispatch.key);
      if (existing) return existing;
      const entry: Entry = { ref: randomUUID(), key: dispatch.key, jobId: dispatch.jobId, priority: priorityWithRank(dispatch.priority ?? 0, dispatch.rank), order: order++ };
      held.set(entry.key, entry.ref);
      const delayMs = dispatch.delayMs ?? 0;
      if (delayMs <= 0) {
        insertReady(entry);
      } else {
        const timer = setTimeout(() => {
          delayed.delete(entry.ref);
          insertReady(entry);
        }, delayMs);
        delayed.set(entry.ref, { entry, timer });
      }
      return entry.ref;
    },

    async remove(ref) {
      const waiting = delayed.get(ref);
      if (waiting) {
        clearTimeout(waiting.timer);
        delayed.delete(ref);
        held.delete(waiting.entry.key);
        return true;
      }
      const index = ready.findIndex((entry) => entry.ref === ref);
      if (index < 0) return false;
      held.delete(ready[index]!.key);
      ready.splice(index, 1);
      return true;
    },

    async counts(): Promise<QueueCounts> {
      return { waiting: ready.length, delayed: delayed.size, active: inFlight.size };
    },
  };
}
