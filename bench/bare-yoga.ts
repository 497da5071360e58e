// The HTTP ceiling of this machine for the enqueue row: a bare graphql-yoga server, in a process
// of its own, answering the same `enqueueJob` mutation jobgraph's clients send with a constant.
// No ledger, no queue, no plugins: what parsing, validating, executing and answering cost alone.
// Listens on PORT (0: any free port) and prints "listening <port>"; stdin as the bench children.
import { createServer } from 'node:http';
import { createSchema, createYoga } from 'graphql-yoga';
import { serveStdin } from './lib.ts';

const job = { id: '00000000-0000-0000-0000-000000000000', status: 'QUEUED' };
const yoga = createYoga({
  schema: createSchema({
    typeDefs: /* GraphQL */ `
      scalar JSON
      type Job { id: ID! status: String! }
      type JobPayload { job: Job! deduplicated: Boolean! }
      type Query { ok: Boolean! }
      type Mutation { enqueueJob(type: String!, input: JSON!, idempotencyKey: String, delayMs: Int, priority: Int): JobPayload! }
    `,
    resolvers: { Mutation: { enqueueJob: () => ({ job, deduplicated: false }) } },
  }),
  logging: false,
});
// eslint-disable-next-line @typescript-eslint/no-misused-promises -- the baseline uses yoga as its docs do: a Node listener that answers its own errors
const server = createServer(yoga);
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  const address = server.address();
  process.stdout.write(`listening ${typeof address === 'object' && address ? address.port : 0}\n`);
});
serveStdin(
  () => {},
  () => server.close(() => process.exit(0)),
);
