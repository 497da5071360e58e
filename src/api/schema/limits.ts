import { requireRole, requireViewer } from '../auth.ts';
import type { LimitState } from '../../jobs/limits/limits.ts';
import { describeRate } from '../../jobs/limits/definition.ts';
import { builder } from './builder.ts';
import { badInput } from './jobs.ts';

type RateValue = { count: number; perMs: number };

const RateRef = builder.objectRef<RateValue>('LimitRate').implement({
  description: 'At most `count` in any window of `intervalMs`.',
  fields: (t) => ({
    count: t.exposeInt('count'),
    intervalMs: t.exposeFloat('perMs'),
    text: t.string({ description: 'As LIMITS writes it: "60/1m".', resolve: (r) => describeRate(r) }),
  }),
});

const LimitRef = builder.objectRef<LimitState>('Limit').implement({
  description:
    'A limit every process of the deployment shares (declared in code, budgets from LIMITS): the LLM client takes one request (and its tokens) from `llm` per call; a task may name limits each of its runs takes from.',
  fields: (t) => ({
    name: t.exposeString('name'),
    description: t.string({ nullable: true, resolve: (s) => s.limit.description }),
    requests: t.field({ type: RateRef, nullable: true, description: 'Requests per window; null: unbounded.', resolve: (s) => s.limit.requests }),
    tokens: t.field({ type: RateRef, nullable: true, description: 'Tokens per window; null: unbounded.', resolve: (s) => s.limit.tokens }),
    concurrency: t.int({ nullable: true, description: 'Held at once; null: unbounded.', resolve: (s) => s.limit.concurrency }),
    requestsUsed: t.exposeInt('requests', { description: 'Requests taken in the last window.' }),
    tokensUsed: t.exposeInt('tokens', { description: 'Tokens taken in the last window (estimates until their calls settle).' }),
    held: t.exposeInt('held', { description: 'Concurrency slots held now.' }),
    waiting: t.exposeInt('waiting', { description: 'Takes waiting now, in every process (a job waits in its handler; its history says on what).' }),
    waitingSince: t.expose('waitingSince', { type: 'DateTime', nullable: true, description: 'When the longest wait began.' }),
    pausedUntil: t.expose('pausedUntil', { type: 'DateTime', nullable: true, description: "A provider's Retry-After: nothing is taken before then." }),
    pauseReason: t.exposeString('pauseReason', { nullable: true }),
  }),
});

builder.queryFields((t) => ({
  limits: t.field({
    type: [LimitRef],
    description: 'Every shared limit and what is taken of it now.',
    resolve: (_, __, ctx) => {
      requireViewer(ctx.viewer);
      return ctx.system.limits.states();
    },
  }),
}));

builder.mutationFields((t) => ({
  resumeLimit: t.field({
    type: LimitRef,
    description: 'Lifts a pause at once (operator): takes go again before the Retry-After that set it.',
    args: { name: t.arg.string({ required: true }) },
    resolve: async (_, { name }, ctx) => {
      requireRole(ctx.viewer, 'operator');
      if (!ctx.system.limits.has(name)) throw badInput(`no limit named "${name}"`, ['name']);
      await ctx.system.limits.resume(name);
      return (await ctx.system.limits.states()).find((s) => s.name === name)!;
    },
  }),
}));
