/**
 * OpenTelemetry traces across the processes users run: `npm start` as an API that runs no worker
 * (WORKER_IN_PROCESS=false) beside `npm run worker` on BullMQ and on pg-boss, and `npm start` with
 * the worker it supervises on the in-process queue. An OTLP/HTTP receiver in this test takes what
 * they export (http/json); a chat-completions endpoint here answers the LLM call with known token
 * counts. One mutation that makes a job with an LLM call must give one trace: the client's span →
 * the GraphQL operation → the enqueue (its traceparent stored with the job) → the ledger write and
 * the dispatch → in the worker process, the claim and the run → the LLM call, with GenAI
 * attributes. Without OTEL variables, nothing is recorded and the job carries no traceparent.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { telemetrySettings, startTelemetry } from '../../src/lib/telemetry.ts';
import { currentTraceparent, withSpan } from '../../src/lib/tracing.ts';
import { createLogger } from '../../src/lib/logger.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { freePort } from '../helpers/ports.ts';
import { Harness, REDIS_URL, testEnv, uniqueName, waitFor, waitForJob } from '../helpers/system.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** One span as it arrived, flattened from OTLP/JSON. */
interface ReceivedSpan {
  service: string;
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  /** OTLP's SpanKind: 1 internal, 2 server, 3 client, 4 producer, 5 consumer. */
  kind: number;
  /** OTLP's status code: 0 unset, 1 ok, 2 error. */
  status: number;
  attributes: Record<string, string | number | boolean>;
}

interface OtlpValue {
  stringValue?: string;
  intValue?: string | number;
  doubleValue?: number;
  boolValue?: boolean;
}
interface OtlpAttribute {
  key: string;
  value: OtlpValue;
}
interface OtlpExport {
  resourceSpans?: {
    resource?: { attributes?: OtlpAttribute[] };
    scopeSpans?: { spans?: { traceId: string; spanId: string; parentSpanId?: string; name: string; kind: number; status?: { code?: number }; attributes?: OtlpAttribute[] }[] }[];
  }[];
}

const valueOf = (value: OtlpValue) => value.stringValue ?? (value.intValue !== undefined ? Number(value.intValue) : (value.doubleValue ?? value.boolValue ?? ''));
const attributesOf = (list: OtlpAttribute[] = []) => Object.fromEntries(list.map((a) => [a.key, valueOf(a.value)]));

/** An OTLP/HTTP receiver taking JSON on POST /v1/traces, as a collector would on :4318. */
class Receiver {
  readonly spans: ReceivedSpan[] = [];
  /** Requests that were not OTLP/JSON traces (none expected). */
  readonly refused: string[] = [];
  readonly #server: Server;
  url = '';

  private constructor() {
    this.#server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        if (req.method !== 'POST' || req.url !== '/v1/traces' || !req.headers['content-type']?.startsWith('application/json')) {
          this.refused.push(`${req.method} ${req.url} ${req.headers['content-type']}`);
          res.writeHead(415).end();
          return;
        }
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as OtlpExport;
        for (const resourceSpans of body.resourceSpans ?? []) {
          const service = String(attributesOf(resourceSpans.resource?.attributes)['service.name']);
          for (const scope of resourceSpans.scopeSpans ?? []) {
            for (const span of scope.spans ?? []) {
              this.spans.push({
                service,
                traceId: span.traceId,
                spanId: span.spanId,
                parentSpanId: span.parentSpanId ?? '',
                name: span.name,
                kind: span.kind,
                status: span.status?.code ?? 0,
                attributes: attributesOf(span.attributes),
              });
            }
          }
        }
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
  }

  static async start(): Promise<Receiver> {
    const receiver = new Receiver();
    receiver.#server.listen(0, '127.0.0.1');
    await once(receiver.#server, 'listening');
    receiver.url = `http://127.0.0.1:${(receiver.#server.address() as { port: number }).port}`;
    return receiver;
  }

  /** Waits until a span named `name` (a prefix) of `traceId` has arrived. */
  span(traceId: string, name: string, where: (span: ReceivedSpan) => boolean = () => true): Promise<ReceivedSpan> {
    const find = () => this.spans.find((s) => s.traceId === traceId && s.name.startsWith(name) && where(s));
    return waitFor(find, (found) => found !== undefined, 20_000, () => `span ${name} of trace ${traceId}; got ${JSON.stringify(this.spans.map((s) => `${s.service} ${s.name} ${s.traceId}`))}`) as Promise<ReceivedSpan>;
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    this.#server.close();
    await once(this.#server, 'close');
  }
}

const INPUT_TOKENS = 120;
const OUTPUT_TOKENS = 30;

/** A chat-completions endpoint that answers every request with no attributes and known token counts. */
async function startProvider(): Promise<{ baseUrl: string; calls: () => number; close: () => Promise<void> }> {
  let calls = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      calls++;
      const body = {
        model: 'test-model-2024',
        choices: [{ index: 0, message: { role: 'assistant', content: '{"attributes": []}' }, finish_reason: 'stop' }],
        usage: { prompt_tokens: INPUT_TOKENS, completion_tokens: OUTPUT_TOKENS },
      };
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    baseUrl: `http://127.0.0.1:${(server.address() as { port: number }).port}/v1`,
    calls: () => calls,
    close: async () => {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}

/** This process's environment without any OTEL_* variable, so only what a test sets counts. */
function cleanEnv(): Record<string, string | undefined> {
  return Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('OTEL_')));
}

/** `node <entry>` from the repository root, as `npm start` / `npm run worker` run it. */
function startProcess(entry: string, env: Record<string, string | undefined>): ChildProcess {
  const merged = { ...cleanEnv(), ...env };
  return spawn(process.execPath, [entry], {
    cwd: root,
    env: Object.fromEntries(Object.entries(merged).filter((entry): entry is [string, string] => entry[1] !== undefined)),
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

async function stopProcess(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGKILL');
  await once(child, 'exit');
}

async function query<T extends pg.QueryResultRow>(url: string, text: string, params: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(text, params)).rows;
  } finally {
    await client.end();
  }
}

describe('traces off (no OTEL variables)', () => {
  let database: TestDatabase;
  let harness: Harness;

  beforeAll(async () => {
    database = await createTestDatabase();
    harness = new Harness(testEnv({ DATABASE_URL: database.url, QUEUE_BACKEND: 'inline', QUEUE_NAME: uniqueName('traces_off') }));
  });
  afterAll(async () => {
    await harness?.stopAll();
    await database?.drop();
  });

  it('registers no SDK: spans record nothing, and a job carries no traceparent', async () => {
    const variables = Object.keys(process.env).filter((name) => name.startsWith('OTEL_'));
    expect(variables, 'this test needs a process without OTEL_* variables').toEqual([]);
    expect(await startTelemetry({ serviceName: 'jobgraph-test', logger: createLogger('silent') })).toBeUndefined();
    await withSpan('probe', {}, async (span) => {
      expect(span.isRecording()).toBe(false);
      expect(currentTraceparent()).toBeNull();
    });

    const system = await harness.start();
    const { job } = await system.enqueue('test.echo', { value: 1 });
    expect(job.traceparent).toBeNull();
    expect((await waitForJob(system, job.id)).status).toBe('COMPLETED');
  });

  it('turns on only when the standard variables ask, and names a wrong value', () => {
    expect(telemetrySettings({})).toBeUndefined();
    expect(telemetrySettings({ OTEL_SERVICE_NAME: 'x', OTEL_BSP_SCHEDULE_DELAY: '100' })).toBeUndefined();
    expect(telemetrySettings({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' })).toMatchObject({ exporter: 'otlp', sampler: 'parentbased_always_on' });
    expect(telemetrySettings({ OTEL_TRACES_EXPORTER: 'otlp' })).toMatchObject({ exporter: 'otlp' });
    expect(telemetrySettings({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://c:4318/v1/traces', OTEL_SDK_DISABLED: 'true' })).toBeUndefined();
    expect(telemetrySettings({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_TRACES_EXPORTER: 'none' })).toBeUndefined();
    expect(telemetrySettings({ OTEL_TRACES_EXPORTER: 'otlp', OTEL_BSP_SCHEDULE_DELAY: '100' })?.batch).toEqual({ scheduledDelayMillis: 100 });
    expect(() => telemetrySettings({ OTEL_TRACES_EXPORTER: 'zipkin' })).toThrow(/OTEL_TRACES_EXPORTER must be one of otlp, console, none/);
    expect(() => telemetrySettings({ OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' })).toThrow(/OTEL_EXPORTER_OTLP_PROTOCOL=grpc/);
    expect(() => telemetrySettings({ OTEL_TRACES_EXPORTER: 'otlp', OTEL_TRACES_SAMPLER: 'sometimes' })).toThrow(/OTEL_TRACES_SAMPLER must be one of/);
    expect(() => telemetrySettings({ OTEL_TRACES_EXPORTER: 'otlp', OTEL_BSP_SCHEDULE_DELAY: 'soon' })).toThrow(/OTEL_BSP_SCHEDULE_DELAY must be a whole number/);
  });
});

describe.each([
  { backend: 'bullmq', layout: 'an API process and a worker process' },
  { backend: 'pgboss', layout: 'an API process and a worker process' },
  { backend: 'inline', layout: 'npm start and the worker process it supervises' },
])('one trace from the mutation to the LLM call on $backend: $layout', ({ backend }) => {
  const separate = backend !== 'inline';
  let database: TestDatabase;
  let receiver: Receiver;
  let provider: Awaited<ReturnType<typeof startProvider>>;
  let api: ChildProcess | undefined;
  let worker: ChildProcess | undefined;
  let url: string;

  beforeAll(async () => {
    [database, receiver, provider] = await Promise.all([createTestDatabase(), Receiver.start(), startProvider()]);
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    const env = {
      ...testEnv({
        DATABASE_URL: database.url,
        REDIS_URL,
        QUEUE_BACKEND: backend,
        QUEUE_NAME: uniqueName('traces'),
        LLM_BASE_URL: provider.baseUrl,
        LLM_MODEL: 'test-model',
        LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'warn',
      }),
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_BSP_SCHEDULE_DELAY: '100',
    };
    api = startProcess('src/main.ts', { ...env, PORT: String(port), WORKER_IN_PROCESS: separate ? 'false' : 'true' });
    if (separate) worker = startProcess('src/worker.ts', env);
    await waitFor(() => fetch(`${url}/ready`).then((r) => r.status, () => 0), (status) => status === 200, 30_000, 'the API to be ready');
  }, 60_000);
  afterAll(async () => {
    await Promise.all([stopProcess(worker), stopProcess(api)]);
    await Promise.all([receiver?.close(), provider?.close()]);
    await database?.drop();
  });

  it('links the API, dispatch, claim, run and LLM call spans into the client trace', async () => {
    const reportId = (await query<{ id: string }>(database.url, `INSERT INTO "Report" (id, name, regulation, description) VALUES (gen_random_uuid(), $1, 'Basel III', 'credit exposures') RETURNING id`, [uniqueName('report')]))[0]!.id;
    // The client's own span: the whole trace is its.
    const traceId = randomBytes(16).toString('hex');
    const clientSpanId = randomBytes(8).toString('hex');
    const response = await fetch(`${url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', traceparent: `00-${traceId}-${clientSpanId}-01` },
      body: JSON.stringify({ query: 'mutation Traced($reportId: String!) { generateLlmAttributes(input: { reportId: $reportId }) { job { id } } }', variables: { reportId } }),
    });
    const body = (await response.json()) as { data?: { generateLlmAttributes: { job: { id: string } } }; errors?: unknown };
    expect(body.errors).toBeUndefined();
    const jobId = body.data!.generateLlmAttributes.job.id;

    const readJob = async () => (await query<{ status: string; traceparent: string | null }>(database.url, 'SELECT status, traceparent FROM "Job" WHERE id = $1', [jobId]))[0]!;
    const done = await waitFor(readJob, (job) => ['COMPLETED', 'FAILED', 'CANCELLED'].includes(job.status), 30_000, `job ${jobId} to finish`);
    expect(done.status).toBe('COMPLETED');
    expect(provider.calls()).toBe(1);

    // In the API process: the operation (its parent the client's span), the enqueue, the write.
    const operation = await receiver.span(traceId, 'mutation Traced');
    expect(operation).toMatchObject({ service: 'jobgraph-api', parentSpanId: clientSpanId, kind: 2 });
    expect(operation.attributes).toMatchObject({ 'graphql.operation.type': 'mutation', 'graphql.operation.name': 'Traced' });
    const enqueue = await receiver.span(traceId, 'jobgraph.enqueue planning.generateLlmAttributes');
    expect(enqueue).toMatchObject({ service: 'jobgraph-api', parentSpanId: operation.spanId, kind: 4 });
    expect(enqueue.attributes).toMatchObject({ 'jobgraph.job.id': jobId, 'jobgraph.task': 'planning.generateLlmAttributes', 'jobgraph.deduplicated': false });
    // The job carries the enqueue span's context to the other processes.
    expect(done.traceparent).toBe(`00-${traceId}-${enqueue.spanId}-01`);
    const write = await receiver.span(traceId, 'jobgraph.ledger.createJob');
    expect(write).toMatchObject({ service: 'jobgraph-api', parentSpanId: enqueue.spanId });

    // The hand-over to the queue: from the API on a shared queue; from the worker process on the
    // in-process one (the API holds the job in the outbox for it).
    const dispatch = await receiver.span(traceId, 'jobgraph.dispatch', (s) => s.attributes['jobgraph.dispatch.outcome'] === 'queued');
    expect(dispatch).toMatchObject({ service: separate ? 'jobgraph-api' : 'jobgraph-worker', parentSpanId: enqueue.spanId, kind: 4 });
    expect(dispatch.attributes).toMatchObject({ 'messaging.system': backend, 'jobgraph.job.id': jobId });

    // In the worker process: its spans' parent is the API's enqueue span.
    const claim = await receiver.span(traceId, 'jobgraph.claim planning.generateLlmAttributes');
    expect(claim).toMatchObject({ service: 'jobgraph-worker', parentSpanId: enqueue.spanId });
    expect(claim.attributes).toMatchObject({ 'jobgraph.job.id': jobId, 'jobgraph.claim.outcome': 'claimed', 'jobgraph.attempt': 1, 'messaging.system': backend });
    const run = await receiver.span(traceId, 'jobgraph.run planning.generateLlmAttributes');
    expect(run).toMatchObject({ service: 'jobgraph-worker', parentSpanId: enqueue.spanId, kind: 5, status: 0 });
    expect(run.attributes).toMatchObject({ 'jobgraph.job.id': jobId, 'jobgraph.attempt': 1, 'jobgraph.outcome': 'completed', 'messaging.system': backend });

    // The handler's LLM call, under the run, after the GenAI conventions.
    const chat = await receiver.span(traceId, 'chat test-model');
    expect(chat).toMatchObject({ service: 'jobgraph-worker', parentSpanId: run.spanId, kind: 3, status: 0 });
    expect(chat.attributes).toMatchObject({
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'openai',
      'gen_ai.request.model': 'test-model',
      'gen_ai.response.model': 'test-model-2024',
      'gen_ai.usage.input_tokens': INPUT_TOKENS,
      'gen_ai.usage.output_tokens': OUTPUT_TOKENS,
      'jobgraph.llm.purpose': 'attributes',
    });

    // One trace: every span of the job's, from both processes, is the client's trace.
    const ofJob = receiver.spans.filter((s) => s.attributes['jobgraph.job.id'] === jobId);
    expect(new Set(ofJob.map((s) => s.traceId))).toEqual(new Set([traceId]));
    expect(new Set(receiver.spans.filter((s) => s.traceId === traceId).map((s) => s.service))).toEqual(new Set(['jobgraph-api', 'jobgraph-worker']));
    expect(receiver.refused).toEqual([]);
  }, 60_000);
});
