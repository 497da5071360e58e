import { createHttpServer, type HttpServer } from '../../src/api/server.ts';
import { createApi } from '../../src/api/yoga.ts';
import { workflowReads } from '../../src/domain/queries.ts';
import { createTaskDeps } from '../../src/tasks/deps.ts';
import type { JobSystem } from '../../src/jobs/system.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { Harness, testEnv, uniqueName } from '../helpers/system.ts';

export interface CliTestServer {
  system: JobSystem;
  /** The open API (no API_TOKENS): every caller is the local admin. */
  url: string;
  /** The same job system behind a second listener that requires tokens (`TOKENS`). */
  securedUrl: string;
  close(): Promise<void>;
}

/** Tokens of the secured listener: an operator, a viewer and an approver. */
export const TOKENS = { operator: 'tok-olga', viewer: 'tok-vic', approver: 'tok-rita' };

/**
 * One job system (inline queue, an in-process worker, a database of its own) behind two real
 * listeners on free ports: one open, one with API_TOKENS.
 */
export async function startCliTestServer(): Promise<CliTestServer> {
  const database: TestDatabase = await createTestDatabase();
  const harness = new Harness(testEnv({ DATABASE_URL: database.url, QUEUE_BACKEND: 'inline', QUEUE_NAME: uniqueName('cli') }));
  const servers: HttpServer[] = [];
  try {
    const system = await harness.start({}, { deps: createTaskDeps({ LLM_CONCURRENCY: 4 }) });
    const listen = async (config: ReturnType<Harness['config']>) => {
      const http = createHttpServer(createApi(system, workflowReads(system.db.prisma), config, system.logger), system, system.logger);
      servers.push(http);
      const port = await http.listen(0, '127.0.0.1');
      return `http://127.0.0.1:${port}/graphql`;
    };
    const url = await listen(harness.config());
    const securedUrl = await listen(harness.config({ API_TOKENS: `olga:${TOKENS.operator}:operator,vic:${TOKENS.viewer}:viewer,rita:${TOKENS.approver}:approver` }));
    return { system, url, securedUrl, close };
  } catch (error) {
    await close();
    throw error;
  }

  async function close(): Promise<void> {
    for (const server of servers) await server.close();
    await harness.stopAll();
    await database.drop();
  }
}
