/**
 * Flow control in the fault suite: an OpenAI-compatible provider in the test process that records
 * when each request arrives and ends (and which report it is about), and the test's own reads of
 * the ledger's flow state (a concurrency key's running jobs, a limit's leases, the attempts of jobs
 * as their histories draw them).
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import pg from 'pg';

/** One request as the provider saw it. */
export interface Arrival {
  /** Its number, from 1, in arrival order. */
  n: number;
  at: number;
  /** When its answer was written or its connection went away; undefined while in flight. */
  endedAt?: number;
  purpose: 'attributes' | 'mappings' | 'scoping' | 'rules';
  /** The report named in the prompt, if any. */
  report: string | null;
  status: number;
}

export interface ProviderOptions {
  /** How long each answer takes (default 0). */
  answerMs?: number;
  /** The request (by arrival number) answered 429 with Retry-After `retryAfterSeconds`. */
  rateLimit?: { request: number; retryAfterSeconds: number };
  /** Called as the 429 is written. */
  onRateLimited?: (at: number) => void;
}

/** Four attributes each attributes request is answered with. */
const ATTRIBUTES = ['Loan amount', 'Borrower id', 'Origination date', 'Interest rate'].map((name, i) => ({
  name,
  description: `${name} of the loan`,
  dataType: ['DECIMAL', 'STRING', 'DATE', 'DECIMAL'][i],
  isKey: i === 1,
  isCritical: i !== 3,
  confidence: 0.9,
}));

/**
 * A chat-completions endpoint (`baseUrl`, to pass as LLM_BASE_URL) answering each request with
 * JSON that fits its purpose (src/domain/llm/requests.ts), told apart by its prompt.
 */
export class FakeProvider {
  readonly arrivals: Arrival[] = [];
  /** When the 429 was answered. */
  rateLimitedAt: number | undefined;
  #inFlight = 0;
  #mostInFlight = 0;
  readonly #opts: ProviderOptions;
  readonly #server: Server;
  baseUrl = '';

  private constructor(opts: ProviderOptions) {
    this.#opts = opts;
    this.#server = createServer((req, res) => this.#handle(req, res));
  }

  static async start(opts: ProviderOptions = {}): Promise<FakeProvider> {
    const provider = new FakeProvider(opts);
    provider.#server.listen(0, '127.0.0.1');
    await once(provider.#server, 'listening');
    provider.baseUrl = `http://127.0.0.1:${(provider.#server.address() as { port: number }).port}/v1`;
    return provider;
  }

  /** Requests arrived and not yet answered (nor abandoned by their sender). */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** The most requests in flight at one moment so far. */
  get mostInFlight(): number {
    return this.#mostInFlight;
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const at = Date.now();
      const prompt = promptOf(Buffer.concat(chunks).toString('utf8'));
      const arrival: Arrival = { n: this.arrivals.length + 1, at, purpose: purposeOf(prompt), report: /Report "([^"]+)"/.exec(prompt)?.[1] ?? null, status: 200 };
      this.arrivals.push(arrival);
      this.#inFlight++;
      this.#mostInFlight = Math.max(this.#mostInFlight, this.#inFlight);
      // 'close' follows the answer written, or the sender gone (a killed process's socket closes).
      res.once('close', () => {
        clearTimeout(timer);
        arrival.endedAt ??= Date.now();
        this.#inFlight--;
      });
      const limited = this.#opts.rateLimit?.request === arrival.n ? this.#opts.rateLimit : undefined;
      const answer = () => {
        if (res.destroyed) return;
        if (limited) {
          arrival.status = 429;
          this.rateLimitedAt = Date.now();
          res.writeHead(429, { 'content-type': 'application/json', 'retry-after': String(limited.retryAfterSeconds) }).end('{"error":{"message":"rate limited"}}');
          this.#opts.onRateLimited?.(this.rateLimitedAt);
          return;
        }
        const body = {
          model: 'test-model',
          choices: [{ index: 0, message: { role: 'assistant', content: JSON.stringify(answerFor(arrival.purpose)) }, finish_reason: 'stop' }],
          usage: { prompt_tokens: 50, completion_tokens: 20 },
        };
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      };
      const timer = setTimeout(answer, limited ? 0 : (this.#opts.answerMs ?? 0));
    });
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    this.#server.close();
    await once(this.#server, 'close');
  }
}

function promptOf(body: string): string {
  try {
    const parsed = JSON.parse(body) as { messages?: { role?: string; content?: string }[] };
    return (parsed.messages ?? []).map((m) => m.content ?? '').join('\n');
  } catch {
    return body;
  }
}

function purposeOf(prompt: string): Arrival['purpose'] {
  if (prompt.includes("List the report's attributes")) return 'attributes';
  if (prompt.includes('Pick the data elements')) return 'mappings';
  if (prompt.includes('Score the risk')) return 'scoping';
  return 'rules';
}

function answerFor(purpose: Arrival['purpose']): unknown {
  switch (purpose) {
    case 'attributes':
      return { attributes: ATTRIBUTES };
    case 'mappings':
      return { mappings: [] };
    case 'scoping':
      return { decision: 'IN_SCOPE', riskScore: 0.6, rationale: 'reported to the regulator' };
    case 'rules':
      return { rules: [] };
  }
}

/** One attempt of a job as its history draws it: from its RUNNING STATUS event to the next status change. */
export interface Span {
  jobId: string;
  attempt: number;
  start: number;
  /** The next STATUS or ATTEMPT event (the reaper's, for a killed attempt); Infinity while open. */
  end: number;
  /** That event: kind, status, error code (WORKER_LOST: the reaper's), message. */
  endedBy: string;
}

export interface Overlap {
  a: Span;
  b: Span;
  ms: number;
}

/** The largest overlap among `spans` (0 and none if they never overlap), and every overlap longer than `toleranceMs`. */
export function overlaps(spans: Span[], toleranceMs: number): { most: number; beyond: Overlap[] } {
  let most = 0;
  const beyond: Overlap[] = [];
  for (let i = 0; i < spans.length; i++) {
    for (let j = i + 1; j < spans.length; j++) {
      const a = spans[i]!;
      const b = spans[j]!;
      const ms = Math.min(a.end, b.end) - Math.max(a.start, b.start);
      if (ms <= 0) continue;
      most = Math.max(most, ms);
      if (ms > toleranceMs) beyond.push({ a, b, ms });
    }
  }
  return { most, beyond };
}

export interface LeaseRow {
  holder: string;
  holding: boolean;
  jobId: string | null;
  lockedBy: string | null;
  expiresAt: Date;
}

/**
 * The test's reads (and its one setup write) of a scenario's ledger. Reads that fail (the database
 * is away) throw: flow scenarios do not fault PostgreSQL.
 */
export class FlowProbe {
  readonly #pool: pg.Pool;
  constructor(databaseUrl: string) {
    this.#pool = new pg.Pool({ connectionString: databaseUrl, max: 3, connectionTimeoutMillis: 5_000 });
    this.#pool.on('error', () => {});
  }

  /** Jobs of `type` and concurrency key `key` the ledger holds RUNNING or CANCELLING now (one snapshot). */
  async keyHeld(type: string, key: string): Promise<number> {
    const { rows } = await this.#pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM "Job" WHERE "type" = $1 AND "concurrencyKey" = $2 AND status IN ('RUNNING', 'CANCELLING')`,
      [type, key],
    );
    return rows[0]!.n;
  }

  async jobs(ids: string[]): Promise<{ id: string; status: string; attempt: number; progress: number; lockedBy: string | null; waitingOn: string | null }[]> {
    const { rows } = await this.#pool.query(`SELECT id, status, attempt, progress, "lockedBy", "waitingOn" FROM "Job" WHERE id = ANY($1::uuid[])`, [ids]);
    return rows as { id: string; status: string; attempt: number; progress: number; lockedBy: string | null; waitingOn: string | null }[];
  }

  /** Each attempt of each job, from the jobs' histories. */
  async spans(ids: string[]): Promise<Span[]> {
    const { rows } = await this.#pool.query<{ jobId: string; seq: number; kind: string; status: string; at: Date; message: string | null; code: string | null }>(
      `SELECT "jobId", seq, kind, status, at, message, data->'error'->>'code' AS code FROM "JobEvent" WHERE "jobId" = ANY($1::uuid[]) ORDER BY "jobId", seq`,
      [ids],
    );
    const spans: Span[] = [];
    const open = new Map<string, { start: number; attempt: number }>();
    const attempts = new Map<string, number>();
    for (const event of rows) {
      const current = open.get(event.jobId);
      if (event.kind === 'STATUS' && event.status === 'RUNNING') {
        const attempt = (attempts.get(event.jobId) ?? 0) + 1;
        attempts.set(event.jobId, attempt);
        open.set(event.jobId, { start: event.at.getTime(), attempt });
        continue;
      }
      // A status change ends the attempt (CANCELLING still holds the job).
      if (current && (event.kind === 'STATUS' || event.kind === 'ATTEMPT') && event.status !== 'RUNNING' && event.status !== 'CANCELLING') {
        spans.push({ jobId: event.jobId, attempt: current.attempt, start: current.start, end: event.at.getTime(), endedBy: `${event.kind} ${event.status}${event.code ? ` ${event.code}` : ''}: ${event.message ?? ''}` });
        open.delete(event.jobId);
      }
    }
    for (const [jobId, { start, attempt }] of open) spans.push({ jobId, attempt, start, end: Infinity, endedBy: 'still open' });
    return spans.sort((a, b) => a.start - b.start);
  }

  /** The messages of each job's history. */
  async messages(ids: string[]): Promise<Map<string, string[]>> {
    const { rows } = await this.#pool.query<{ jobId: string; message: string | null }>(
      `SELECT "jobId", message FROM "JobEvent" WHERE "jobId" = ANY($1::uuid[]) ORDER BY "jobId", seq`,
      [ids],
    );
    const byJob = new Map<string, string[]>(ids.map((id) => [id, []]));
    for (const row of rows) byJob.get(row.jobId)?.push(row.message ?? '');
    return byJob;
  }

  /** The live leases of limit `name` (held slots and waiters), with the worker holding each one's job. */
  async leases(name: string): Promise<LeaseRow[]> {
    const { rows } = await this.#pool.query<LeaseRow>(
      `SELECT l.holder, l.holding, l."jobId", j."lockedBy", l."expiresAt"
         FROM "FlowLimitLease" l LEFT JOIN "Job" j ON j.id = l."jobId"
        WHERE l."limit" = $1 AND l."expiresAt" > clock_timestamp() ORDER BY l.since`,
      [name],
    );
    return rows;
  }

  /** The reports' names by id. */
  async reportNames(): Promise<Map<string, string>> {
    const { rows } = await this.#pool.query<{ id: string; name: string }>(`SELECT id, name FROM "Report"`);
    return new Map(rows.map((row) => [row.id, row.name]));
  }

  /**
   * `n` more reports beside the demo's (the API makes none), so jobs of several reports write
   * nothing in common; their ids.
   */
  async addReports(n: number): Promise<string[]> {
    const { rows } = await this.#pool.query<{ id: string }>(
      `INSERT INTO "Report" (id, name, regulation, description)
       SELECT gen_random_uuid(), 'Fault report ' || i, 'FR Y-14Q', 'A loan-level report for the fault suite, number ' || i
         FROM generate_series(1, $1::int) AS i
       RETURNING id`,
      [n],
    );
    return rows.map((row) => row.id);
  }

  async close(): Promise<void> {
    await this.#pool.end();
  }
}

/**
 * Samples `read` every `everyMs` until stopped: the most it answered, and how many samples were
 * taken (reads that fail are skipped).
 */
export class Sampler {
  most = 0;
  samples = 0;
  #stopped = false;
  readonly #done: Promise<void>;

  constructor(read: () => Promise<number>, everyMs = 25) {
    this.#done = (async () => {
      while (!this.#stopped) {
        const value = await read().catch(() => undefined);
        if (value !== undefined) {
          this.samples++;
          this.most = Math.max(this.most, value);
        }
        await new Promise((resolve) => setTimeout(resolve, everyMs));
      }
    })();
  }

  async stop(): Promise<{ most: number; samples: number }> {
    this.#stopped = true;
    await this.#done;
    return { most: this.most, samples: this.samples };
  }
}
