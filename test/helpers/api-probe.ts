/**
 * What a user waiting on a long task feels: a client asks the API something small every 50 ms
 * while profileDataset and executeTests run, and each answer's latency is kept. Shared by the
 * test that checks the API never hangs (test/process/no-hanging.test.ts) and its bench row
 * (bench/api-latency.ts). Everything goes over HTTP, as a browser's requests do.
 */

export interface Probe {
  /** One latency (ms) per answer, in order. */
  latencies: number[];
  /** Answers that were errors or not 200. */
  failures: number;
}

/** A GraphQL request over HTTP; throws on a transport error, an HTTP error or GraphQL errors. */
export async function gql<T = Record<string, unknown>>(baseUrl: string, query: string, variables?: Record<string, unknown>): Promise<T> {
  const response = await fetch(`${baseUrl}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query, variables }),
    signal: AbortSignal.timeout(60_000),
  });
  const body = (await response.json()) as { data?: T; errors?: { message: string }[] };
  if (!response.ok || body.errors?.length || !body.data) throw new Error(`GraphQL ${response.status}: ${JSON.stringify(body.errors ?? body)}`);
  return body.data;
}

export interface PhaseRun {
  id: string;
  result: Record<string, unknown>;
  /** startedAt → finishedAt of the attempt that completed, from the ledger. */
  runMs: number;
}

/** Enqueues one phase through its typed mutation and waits (polling every 250 ms) until it completed. */
export async function runPhase(baseUrl: string, mutation: string, input: Record<string, unknown>, timeoutMs = 300_000): Promise<PhaseRun> {
  const name = mutation.charAt(0).toUpperCase() + mutation.slice(1);
  const enqueued = await gql<Record<string, { job: { id: string } }>>(baseUrl, `mutation($input: ${name}Input!) { ${mutation}(input: $input) { job { id } } }`, { input });
  return waitForCompletion(baseUrl, enqueued[mutation]!.job.id, timeoutMs);
}

export async function waitForCompletion(baseUrl: string, id: string, timeoutMs = 300_000): Promise<PhaseRun> {
  const deadline = Date.now() + timeoutMs;
  for (;; await new Promise((resolve) => setTimeout(resolve, 250))) {
    // A poll that fails (a socket reset by a server whose loop was blocked) is asked again.
    const answer = await gql<{ job: { status: string; result: Record<string, unknown>; startedAt: string | null; finishedAt: string | null; error: { message: string } | null } }>(
      baseUrl,
      'query($id: ID!) { job(id: $id) { status result startedAt finishedAt error { message } } }',
      { id },
    ).catch((error: unknown) => {
      if (Date.now() > deadline) throw error;
      return undefined;
    });
    if (!answer) continue;
    const { job } = answer;
    if (job.status === 'COMPLETED') return { id, result: job.result, runMs: Date.parse(job.finishedAt!) - Date.parse(job.startedAt!) };
    if (['FAILED', 'CANCELLED'].includes(job.status)) throw new Error(`job ${id} ended ${job.status}: ${job.error?.message ?? ''}`);
    if (Date.now() > deadline) throw new Error(`job ${id} still ${job.status} after ${timeoutMs} ms`);
  }
}

/** The report and dataset of the demo data, once the demo is loaded. */
export async function demoIds(baseUrl: string): Promise<{ reportId: string; datasetId: string } | undefined> {
  const { reports, datasets } = await gql<{ reports: { id: string }[]; datasets: { id: string }[] }>(baseUrl, '{ reports { id } datasets { id } }');
  return reports[0] && datasets[0] ? { reportId: reports[0].id, datasetId: datasets[0].id } : undefined;
}

/** Everything executeTests needs besides the demo data: attributes, mappings, samples, rules. */
export async function preparePhases(baseUrl: string, { reportId, datasetId }: { reportId: string; datasetId: string }, sampleSize = 1_000): Promise<void> {
  await runPhase(baseUrl, 'generateLlmAttributes', { reportId });
  await runPhase(baseUrl, 'regeneratePdeMappings', { reportId });
  await runPhase(baseUrl, 'selectSamples', { reportId, datasetId, size: sampleSize, method: 'STRATIFIED', seed: 42 });
  await runPhase(baseUrl, 'generateProfilingRules', { reportId });
}

export const PROBE_QUERY = '{ queueInfo { backend } }';
/** A probe that reads the ledger too, as the dashboard's job list does. */
export const LEDGER_PROBE_QUERY = '{ jobs(first: 5) { nodes { id status progress } } }';

/**
 * Runs profileDataset and executeTests together while `query` is asked every `everyMs` (one
 * request at a time, the next due `everyMs` after the last was sent or at once if it is late).
 */
export async function probeDuringLongTasks(
  baseUrl: string,
  ids: { reportId: string; datasetId: string },
  queries: string[] = [PROBE_QUERY],
  everyMs = 50,
): Promise<{ probes: Probe[]; profile: PhaseRun; tests: PhaseRun }> {
  let working = true;
  const probes = queries.map(() => ({ latencies: [] as number[], failures: 0 }));
  const probing = queries.map(async (query, i) => {
    const probe = probes[i]!;
    while (working) {
      const sent = performance.now();
      try {
        await gql(baseUrl, query);
        probe.latencies.push(performance.now() - sent);
      } catch {
        probe.failures++;
      }
      const wait = sent + everyMs - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    }
  });
  try {
    const [profile, tests] = await Promise.all([
      runPhase(baseUrl, 'profileDataset', { datasetId: ids.datasetId }),
      runPhase(baseUrl, 'executeTests', ids),
    ]);
    return { probes, profile, tests };
  } finally {
    working = false;
    await Promise.all(probing);
  }
}
