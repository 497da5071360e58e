import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { printAppSchema, SCHEMA_FILE } from '../../scripts/print-schema.ts';

describe('schema.graphql', () => {
  it('is the schema the code builds (run `npm run schema` after changing it)', async () => {
    expect(await readFile(SCHEMA_FILE, 'utf8')).toBe(printAppSchema());
  });

  it('keeps the public contract of the issue', () => {
    const sdl = printAppSchema();
    for (const line of [
      'enum JobStatus {',
      'jobProgress(id: ID!, afterSeq: Int): Job!',
      'jobEvents(id: ID!, afterSeq: Int): JobEvent!',
      'jobUpdates(phase: Phase, type: String): Job!',
      'enqueueJob(type: String!, input: JSON!, idempotencyKey: String, delayMs: Int, priority: Int, tags: [String!]): JobPayload!',
      'cancelJob(id: ID!): Job!',
      'retryJob(id: ID!): JobPayload!',
      'countWords(input: CountWordsInput!, idempotencyKey: String, delayMs: Int, priority: Int, tags: [String!]): JobPayload!',
      'jobs(first: Int = 20, after: String, status: [JobStatus!], type: String, phase: Phase, filter: JobFilter): JobConnection!',
      'cancelJobs(',
      'retryJobs(',
    ]) {
      expect(sdl).toContain(line);
    }
  });
});
