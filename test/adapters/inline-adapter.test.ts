// The in-process adapter through the queue-contract suite: it needs no services, so this file also
// proves the suite itself (see queue-contract.ts).
import { createInlineAdapter } from '../../src/adapters/inline.ts';
import { testQueueAdapter } from './queue-contract.ts';

testQueueAdapter('inline', () => createInlineAdapter(), {
  capabilities: { durable: false, deduplicates: true, remove: true, maxDelayMs: 2_147_483_647, priorityLevels: 2001, shared: false },
});
