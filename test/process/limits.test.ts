/**
 * The shared `llm` limit on the process layout users run: an API-side job system that runs no
 * worker, three worker processes, BullMQ or pg-boss, and an OpenAI-compatible provider (in this
 * test process) that records when each request arrives and answers one of them 429 with
 * Retry-After. Counted by arrival at the provider: no window holds more than the limit across the
 * three processes; after the 429 nobody sends until its Retry-After has passed; no job spends an
 * attempt on it.
 */
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobSystem } from '../../src/jobs/system.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { Harness, testEnv, uniqueName, waitFor, waitForJob } from '../helpers/system.ts';

/** A chat-completions endpoint answering every request with an empty rule list, except the one told to answer 429. */
class Provider {
  readonly arrivals: number[] = [];
  /** When the 429 was answered, and for how long it told callers to wait. */
  rateLimited: { at: number; retryAfterMs: number } | undefined;
  #limitRequest = 0;
  #server: Server;
  baseUrl = '';

  private constructor(limitRequest: number) {
    this.#limitRequest = limitRequest;
    this.#server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        const at = Date.now();
        this.arrivals.push(at);
        if (this.arrivals.length === this.#limitRequest) {
          this.rateLimited = { at, retryAfterMs: 2_000 };
          res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '2' }).end('{"error":{"message":"rate limited"}}');
          return;
        }
        const body = {
          model: 'test-model',
          choices: [{ index: 0, message: { role: 'assistant', content: '{"rules": []}' }, finish_reason: 'stop' }],
          usage: { prompt_tokens: 50, completion_tokens: 5 },
        };
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      });
    });
  }

  static async start(limitRequest: number): Promise<Provider> {
    const provider = new Provider(limitRequest);
    provider.#server.listen(0, '127.0.0.1');
    await once(provider.#server, 'listening');
    provider.baseUrl = `http://127.0.0.1:${(provider.#server.address() as { port: number }).port}/v1`;
    return provider;
  }

  /** The most requests that arrived in any window of `ms`. */
  busiestWindow(ms: number): number {
    const sorted = [...this.arrivals].sort((a, b) => a - b);
    let most = 0;
    for (let i = 0, j = 0; i < sorted.length; i++) {
      while (sorted[i]! - sorted[j]! >= ms) j++;
      most = Math.max(most, i - j + 1);
    }
    return most;
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    this.#server.close();
    await once(this.#server, 'close');
  }
}

/**
 * Requests granted before the pause was written may still be on their way (no process can recall a
 * request another has sent). Judged from when the pause could be seen in the ledger, not from the
 * 429: between the two the 429 travels back and the pause commits, which a loaded machine
 * stretched past a second (arrivals 1.15 s after the 429, once). From then on, what is left is a
 * granted request's own way to the provider.
 */
const IN_FLIGHT_GRACE_MS = 1_000;

describe.each([
  { backend: 'bullmq', requests: 60, per: '1m', windowMs: 60_000 },
  { backend: 'pgboss', requests: 60, per: '1m', windowMs: 60_000 },
])('the llm limit across three worker processes on $backend ($requests requests per $per)', ({ backend, requests, per, windowMs }) => {
  let database: TestDatabase;
  let harness: Harness;
  let api: JobSystem;
  let provider: Provider;

  beforeAll(async () => {
    database = await createTestDatabase();
    provider = await Provider.start(10);
    harness = new Harness(
      testEnv({
        DATABASE_URL: database.url,
        QUEUE_BACKEND: backend,
        QUEUE_NAME: uniqueName('limits'),
        WORKER_IN_PROCESS: 'false',
        LIMITS: `llm:requests=${requests}/${per}`,
        LLM_BASE_URL: provider.baseUrl,
        LLM_MODEL: 'test-model',
        WORKER_CONCURRENCY: '4',
      }),
    );
    api = await harness.start({}, { worker: false });
    await Promise.all([harness.spawnWorker(), harness.spawnWorker(), harness.spawnWorker()]);
  }, 60_000);
  afterAll(async () => {
    await harness?.stopAll();
    await provider?.close();
    await database?.drop();
  });

  it('keeps every window within the limit, stops everyone for a Retry-After, and costs no job an attempt', async () => {
    // A quarter more calls than one window allows: the rest must wait for the window to move on.
    const jobs = Math.ceil((requests * 1.25) / 3);
    // When the provider's pause can first be read in the ledger (every process reads it there).
    const pause: { seenAt?: number; until?: Date } = {};
    const watchUntil = Date.now() + windowMs * 2 + 30_000;
    const watching = (async () => {
      while (!pause.seenAt && Date.now() < watchUntil) {
        const [row] = await api.db.query<{ pausedUntil: Date | null }>(`SELECT "pausedUntil" FROM "FlowLimit" WHERE name = 'llm'`);
        if (row?.pausedUntil) Object.assign(pause, { seenAt: Date.now(), until: row.pausedUntil });
        else await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();
    const enqueued = await api.enqueueMany(Array.from({ length: jobs }, () => ({ type: 'test.askLlm', input: { calls: 3 } })));

    // While the window is spent, every process sees it: the budget used up, takes waiting.
    const llm = async () => (await api.limits.states()).find((state) => state.name === 'llm')!;
    const spent = await waitFor(llm, (state) => state.requests >= requests && state.waiting > 0, windowMs / 2, 'the window spent');
    expect(spent.requests).toBe(requests);

    const done = await Promise.all(enqueued.map(({ job }) => waitForJob(api, job.id, undefined, windowMs * 2 + 30_000)));
    expect(done.map((job) => job.status)).toEqual(done.map(() => 'COMPLETED'));
    expect(done.map((job) => job.attempt)).toEqual(done.map(() => 1));

    // Counted where the provider counts: by arrival.
    expect(provider.arrivals.length).toBe(jobs * 3 + 1);
    expect(provider.busiestWindow(windowMs)).toBeLessThanOrEqual(requests);
    const { at } = provider.rateLimited!;
    await watching;
    expect(pause.seenAt, 'the pause was written to the ledger').toBeDefined();
    const pauseSeenAt = pause.seenAt!;
    expect(pauseSeenAt - at, 'the pause visible before its Retry-After ran out').toBeLessThan(pause.until!.getTime() - at);
    expect(
      provider.arrivals.filter((t) => t > pauseSeenAt + IN_FLIGHT_GRACE_MS && t < pause.until!.getTime()).map((t) => `${t - pauseSeenAt} ms after the pause was seen (${t - at} ms after the 429)`),
    ).toEqual([]);
    // The stragglers are at most what was in flight: three workers, four jobs each, a call at a time.
    expect(provider.arrivals.filter((t) => t > at && t < pause.until!.getTime()).length).toBeLessThanOrEqual(12);

    const histories = await Promise.all(done.map((job) => api.events(job.id)));
    const lines = histories.flat().map((e) => e.message ?? '');
    expect(lines.some((line) => line.startsWith('waiting on limit llm: paused until'))).toBe(true);
    expect(lines.some((line) => line.startsWith(`waiting on limit llm: ${requests}/${per} requests spent`))).toBe(true);
  }, 200_000);
});
