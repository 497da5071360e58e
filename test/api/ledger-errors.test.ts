import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createApi, type Api } from '../../src/api/yoga.ts';
import { workflowReads } from '../../src/domain/queries.ts';
import type { JobSystem } from '../../src/jobs/system.ts';
import { TcpProxy } from '../faults/support/proxy.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { client } from '../helpers/graphql.ts';
import { Harness, testEnv, uniqueName, waitFor, waitForJob } from '../helpers/system.ts';

/**
 * What a client is told when the ledger fails under a mutation, with PostgreSQL behind a TCP proxy
 * the test controls: a connection cut right after a commit, and a ledger that stays away.
 */
describe('the API when the ledger fails under a mutation', () => {
  let database: TestDatabase;
  let proxy: TcpProxy;
  let harness: Harness;
  let system: JobSystem;
  let api: Api;

  beforeAll(async () => {
    database = await createTestDatabase();
    proxy = await TcpProxy.start(5432);
    const url = new URL(database.url);
    url.port = String(proxy.port);
    harness = new Harness(testEnv({ DATABASE_URL: url.toString(), QUEUE_BACKEND: 'inline', QUEUE_NAME: uniqueName('ledgererr') }));
    system = await harness.start();
    api = createApi(system, workflowReads(system.db.prisma), harness.config(), system.logger);
  });
  afterEach(() => proxy.pass());
  afterAll(async () => {
    await harness?.stopAll();
    await proxy?.close();
    await database?.drop();
  });

  const countWords = (text: string) =>
    client(api.yoga).request(`mutation($input: CountWordsInput!) { countWords(input: $input) { job { id status } } }`, { input: { text } });
  const jobsWith = async (text: string) =>
    (await system.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM "Job" WHERE input->>'text' = $1`, [text]))[0]!.n;

  it('a job whose commit answer was lost is answered as created, and recorded once', async () => {
    const text = `cut after commit ${randomUUID()}`;
    const cut = proxy.cutAfterCommit(text);
    const res = await countWords(text);
    await cut; // the connection really was cut after the job's commit
    expect(res.errors).toBeUndefined();
    const { id } = res.data!.countWords.job;
    expect(await jobsWith(text)).toBe(1);
    expect(await waitForJob(system, id)).toMatchObject({ status: 'COMPLETED', attempt: 1 });
  });

  it('when a committed write loses its answer and the ledger stays away, each client hears its own job may exist, by its id', async () => {
    const text = `cut then away ${randomUUID()}`;
    const cut = proxy.cutAfterCommit(text);
    const answers = Promise.all([countWords(text), countWords(`${text}, another client`)]);
    await cut;
    proxy.drop(); // the writes are tried again, and never reach PostgreSQL
    const errors = (await answers).map((res) => res.errors?.[0]?.extensions as { code: string; recorded: string; jobIds: string[] });
    proxy.pass();
    expect(errors.every((e) => e?.code === 'LEDGER_UNAVAILABLE')).toBe(true);
    const unknown = errors.filter((e) => e.recorded === 'UNKNOWN');
    expect(unknown.length).toBeGreaterThan(0);
    for (const e of unknown) expect(e.jobIds).toHaveLength(1); // its own, never another client's
    expect(new Set(unknown.map((e) => e.jobIds[0])).size).toBe(unknown.length);
    const committed = await system.db.query<{ id: string }>(`SELECT id FROM "Job" WHERE input->>'text' LIKE $1`, [`${text}%`]);
    expect(unknown.map((e) => e.jobIds[0]).every((id) => committed.some((row) => row.id === id))).toBe(true);
  });

  /** Every connection, and every new one, is reset: no statement reaches PostgreSQL. */
  async function ledgerAway() {
    proxy.drop();
    // Once the pool has heard its idle connections die (a statement written to one in the meantime may have arrived).
    await waitFor(async () => system.db.pool!.totalCount, (n) => n === 0, 5_000, 'the pool to drop its connections');
  }

  it('while the ledger stays away, an enqueue says nothing was recorded', async () => {
    await ledgerAway();
    const text = `while away ${randomUUID()}`;
    const res = await countWords(text);
    expect(res.errors?.[0]?.extensions).toMatchObject({ code: 'LEDGER_UNAVAILABLE', recorded: 'NO', jobIds: [] });
    expect(res.errors?.[0]?.message).toMatch(/nothing was recorded/);
    proxy.pass();
    expect(await jobsWith(text)).toBe(0);
  });

  it('while the ledger stays away, an enqueue naming a report is not told the report is unknown', async () => {
    await ledgerAway();
    const res = await client(api.yoga).request(`mutation($input: GenerateLlmAttributesInput!) { generateLlmAttributes(input: $input) { job { id } } }`, {
      input: { reportId: randomUUID() },
    });
    expect(res.errors?.[0]?.extensions?.code).toBe('LEDGER_UNAVAILABLE');
    proxy.pass();
    const unknown = await client(api.yoga).request(`mutation($input: GenerateLlmAttributesInput!) { generateLlmAttributes(input: $input) { job { id } } }`, {
      input: { reportId: randomUUID() },
    });
    expect(unknown.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });
});
