import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { defineTask } from '../jobs/task.ts';

/**
 * Counts the words of `text` chunk by chunk, reporting progress per chunk and pausing `pauseMs`
 * between chunks so a demo or a fault test can watch it run; jobs of one `serial` take turns.
 */
export const countWords = defineTask({
  name: 'demo.countWords',
  phase: 'PLANNING',
  description: 'Counts the words of a text chunk by chunk, with progress per chunk.',
  input: z.object({
    text: z.string().max(1_000_000),
    chunkSize: z.number().int().min(1).max(100_000).default(100),
    pauseMs: z.number().int().min(0).max(60_000).default(0),
    /** Jobs given one `serial` run one at a time, in turn (a concurrency key); none: no such bound. */
    serial: z.string().min(1).max(200).optional(),
  }),
  concurrencyKey: { key: ({ serial }) => serial ?? null, limit: 1, policy: 'queue' },
  async handler({ text, chunkSize, pauseMs }, ctx) {
    const words = text.split(/\s+/).filter(Boolean);
    const chunks = Math.max(1, Math.ceil(words.length / chunkSize));
    let counted = 0;
    for (let chunk = 0; chunk < chunks; chunk++) {
      ctx.signal.throwIfAborted();
      counted += words.slice(chunk * chunkSize, (chunk + 1) * chunkSize).length;
      await ctx.progress(((chunk + 1) / chunks) * 100, `chunk ${chunk + 1}/${chunks}: ${counted} words`);
      if (pauseMs > 0 && chunk + 1 < chunks) await sleep(pauseMs, undefined, { signal: ctx.signal });
    }
    return { words: counted };
  },
});
