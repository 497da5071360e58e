import { createClient as createSseClient } from 'graphql-sse';
import { createClient as createWsClient } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createHttpServer, type HttpServer } from '../../src/api/server.ts';
import { createApi } from '../../src/api/yoga.ts';
import { workflowReads } from '../../src/domain/queries.ts';
import type { JobSystem } from '../../src/jobs/system.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { Harness, testEnv, uniqueName, waitForJob } from '../helpers/system.ts';

/**
 * A real listening server with the official clients: graphql-sse (both modes) and graphql-ws.
 * The worker runs in another process, and there are two API processes' worth of servers, so
 * every event crosses processes through the bus (Redis pub/sub beside BullMQ).
 */
describe('API server over HTTP, SSE and WebSocket', () => {
  let database: TestDatabase;
  let harness: Harness;
  const servers: HttpServer[] = [];
  let apiA: { system: JobSystem; url: string };
  let apiB: { system: JobSystem; url: string };

  async function startApi(): Promise<{ system: JobSystem; url: string }> {
    const system = await harness.start({}, { worker: false });
    const http = createHttpServer(createApi(system, workflowReads(system.db.prisma), harness.config(), system.logger), system, system.logger);
    servers.push(http);
    const port = await http.listen(0, '127.0.0.1');
    return { system, url: `http://127.0.0.1:${port}` };
  }

  beforeAll(async () => {
    database = await createTestDatabase();
    harness = new Harness(
      testEnv({
        DATABASE_URL: database.url,
        QUEUE_BACKEND: 'bullmq',
        QUEUE_NAME: uniqueName('srv'),
        WORKER_IN_PROCESS: 'false',
        API_TOKENS: 'alice:tok-alice:operator,root:tok-root:admin',
      }),
    );
    await harness.spawnWorker();
    apiA = await startApi();
    apiB = await startApi();
  });
  afterAll(async () => {
    for (const server of servers) await server.close();
    await harness?.stopAll();
    await database?.drop();
  });

  async function post(url: string, query: string, token = 'tok-alice') {
    const response = await fetch(`${url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query }),
    });
    return (await response.json()) as { data?: any; errors?: any[] };
  }

  // Chunks further apart than the progress write interval (200 ms), so each one is an event.
  async function enqueueOn(url: string, text = 'a b c d e f', pauseMs = 250): Promise<string> {
    const res = await post(url, `mutation { countWords(input: { text: "${text}", chunkSize: 1, pauseMs: ${pauseMs} }) { job { id } } }`);
    expect(res.errors).toBeUndefined();
    return res.data.countWords.job.id;
  }

  async function collect<T>(iterator: AsyncIterableIterator<T>, limit = Infinity): Promise<T[]> {
    const out: T[] = [];
    for await (const value of iterator) {
      out.push(value);
      if (out.length >= limit) {
        await iterator.return?.();
        break;
      }
    }
    return out;
  }

  it('answers /health and /ready', async () => {
    expect(await (await fetch(`${apiA.url}/health`)).json()).toEqual({ status: 'ok' });
    const ready = await fetch(`${apiA.url}/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ ready: true, backend: 'bullmq' });
  });

  it('serves GraphiQL to a browser, from its own assets (no CDN), subscribing over WebSocket', async () => {
    const page = await fetch(`${apiA.url}/graphql`, { headers: { accept: 'text/html' } });
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toMatch(/graphiql/i);
    expect(html).not.toMatch(/unpkg\.com|jsdelivr/);
    expect(html).toContain('"subscriptionsProtocol":"WS"');
  });

  it('graphql-sse, distinct connections mode: jobProgress climbs to 100 and COMPLETED, from a job enqueued on the other API', async () => {
    const id = await enqueueOn(apiA.url);
    const client = createSseClient({ url: `${apiB.url}/graphql`, headers: { authorization: 'Bearer tok-alice' }, retryAttempts: 0 });
    try {
      const results = await collect(client.iterate<{ jobProgress: { status: string; progress: number } }>({ query: `subscription { jobProgress(id: "${id}") { status progress } }` }));
      const states = results.map((r) => r.data!.jobProgress);
      expect(states.at(-1)).toEqual({ status: 'COMPLETED', progress: 100 });
      expect(states.map((s) => s.progress)).toEqual([...states.map((s) => s.progress)].sort((a, b) => a - b));
      expect(states.length).toBeGreaterThanOrEqual(4);
    } finally {
      client.dispose();
    }
  });

  it('graphql-sse, single connection mode: jobEvents without gaps', async () => {
    const id = await enqueueOn(apiA.url);
    const client = createSseClient({ url: `${apiB.url}/graphql/stream`, singleConnection: true, headers: { authorization: 'Bearer tok-alice' }, retryAttempts: 0 });
    try {
      const results = await collect(client.iterate<{ jobEvents: { seq: number; status: string } }>({ query: `subscription { jobEvents(id: "${id}") { seq status } }` }));
      const seqs = results.map((r) => r.data!.jobEvents.seq);
      expect(seqs).toEqual(seqs.map((_, i) => i + 1));
      expect(results.at(-1)!.data!.jobEvents.status).toBe('COMPLETED');
    } finally {
      client.dispose();
    }
  });

  it('graphql-ws: a client that reconnects with afterSeq misses nothing and sees nothing twice', async () => {
    const id = await enqueueOn(apiA.url, 'one two three four five six seven eight', 60);
    const connect = () =>
      createWsClient({
        url: `${apiB.url.replace('http', 'ws')}/graphql`,
        webSocketImpl: WebSocket,
        connectionParams: { authorization: 'Bearer tok-alice' },
        retryAttempts: 0,
      });
    const first = connect();
    const before = await collect(first.iterate<{ jobEvents: { seq: number } }>({ query: `subscription { jobEvents(id: "${id}") { seq } }` }), 4);
    await first.dispose();
    const lastSeen = before.at(-1)!.data!.jobEvents.seq;
    const second = connect();
    try {
      const after = await collect(
        second.iterate<{ jobEvents: { seq: number; status: string } }>({ query: `subscription { jobEvents(id: "${id}", afterSeq: ${lastSeen}) { seq status } }` }),
      );
      const seqs = [...before, ...after].map((r) => r.data!.jobEvents.seq);
      expect(seqs).toEqual(seqs.map((_, i) => i + 1));
      expect(after.at(-1)!.data!.jobEvents.status).toBe('COMPLETED');
      const job = await waitForJob(apiA.system, id);
      expect(seqs.at(-1)).toBe(job.lastSeq);
    } finally {
      await second.dispose();
    }
  });

  it('graphql-ws: queries and mutations too, and jobUpdates of every job for an admin', async () => {
    const client = createWsClient({
      url: `${apiA.url.replace('http', 'ws')}/graphql`,
      webSocketImpl: WebSocket,
      connectionParams: { authorization: 'Bearer tok-root' },
      retryAttempts: 0,
    });
    try {
      const updates = client.iterate<{ jobUpdates: { id: string; status: string } }>({ query: `subscription { jobUpdates(type: "demo.countWords") { id status } }` });
      // Handshake: warm-up jobs until the subscription reports one; from then on it sees every change.
      const warmUps = new Set<string>();
      for (let pending = updates.next(); ; ) {
        warmUps.add(await enqueueOn(apiB.url, 'warm up', 0));
        const got = await Promise.race([pending, new Promise<undefined>((resolve) => setTimeout(resolve, 500))]);
        if (!got) continue;
        if (got.done) throw new Error('the subscription ended before it reported a warm-up job');
        if (warmUps.has(got.value.data!.jobUpdates.id)) break;
        pending = updates.next();
      }
      const id = await enqueueOn(apiB.url, 'x y');
      const seen: string[] = [];
      for (let next = await updates.next(); !next.done; next = await updates.next()) {
        const update = next.value.data!.jobUpdates;
        if (update.id !== id) continue;
        seen.push(update.status);
        if (update.status === 'COMPLETED') break;
      }
      await updates.return?.();
      expect(seen[0]).toBe('QUEUED');
      expect(seen.at(-1)).toBe('COMPLETED');
      const query = await collect(client.iterate<{ job: { createdBy: string } }>({ query: `{ job(id: "${id}") { createdBy } }` }));
      expect(query[0]!.data!.job).toEqual({ createdBy: 'alice' });
    } finally {
      await client.dispose();
    }
  });

  it('graphql-ws: a wrong token closes the connection; no token is UNAUTHENTICATED', async () => {
    const wrong = createWsClient({ url: `${apiA.url.replace('http', 'ws')}/graphql`, webSocketImpl: WebSocket, connectionParams: { authorization: 'Bearer nope' }, retryAttempts: 0 });
    await expect(collect(wrong.iterate({ query: '{ tasks { name } }' }))).rejects.toMatchObject({ code: 4403 });
    await wrong.dispose();
    const anonymous = createWsClient({ url: `${apiA.url.replace('http', 'ws')}/graphql`, webSocketImpl: WebSocket, retryAttempts: 0 });
    const [result] = await collect(anonymous.iterate({ query: '{ tasks { name } }' }));
    expect(result).toMatchObject({ data: null, errors: [{ extensions: { code: 'UNAUTHENTICATED' } }] });
    await anonymous.dispose();
  });
});
