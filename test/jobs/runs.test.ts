import { describe, expect, it } from 'vitest';
import type { JobSystem } from '../../src/jobs/system.ts';
import type { RunView } from '../../src/jobs/ledger/index.ts';
import { defineWorkflow } from '../../src/jobs/runs/workflow.ts';
import { systemPerFile, uniqueName } from '../helpers/system.ts';
import { unlawfulRunMoves } from '../helpers/history.ts';
import { waitFor } from '../helpers/wait.ts';
import { echo } from '../fixtures/tasks.ts';
import { z } from 'zod';

// The sweep's bound short, so the tests of what only the sweep does take a second, not five.
const { system } = systemPerFile({ RUN_SWEEP_INTERVAL_MS: '300' });

/** Reads the run until `done` holds (the advancer works after the action that moved it answered). */
async function runUntil(s: JobSystem, runId: string, done: (view: RunView) => boolean, what: string): Promise<RunView> {
  return waitFor(async () => (await s.runs.get(runId))!, done, 15_000, what);
}

const stepOf = (view: RunView, name: string) => view.steps.find((step) => step.name === name)!;
const statuses = (view: RunView) => Object.fromEntries(view.steps.map((step) => [step.name, step.status]));

/** Every move in a run's history follows the run and step state tables, with contiguous seqs. */
async function expectLawfulHistory(s: JobSystem, runId: string) {
  const events = await s.runs.events(runId);
  expect(events.map((event) => event.seq)).toEqual(events.map((_, i) => i + 1));
  expect(unlawfulRunMoves(events)).toEqual([]);
}

describe('workflow runs', () => {
  it('runs a DAG: a group after one step, a chord after the group with both parents\' results, a gate, then the rest', async () => {
    const s = system();
    const { run } = await s.runs.start('testDiamond', { tag: 'x' }, { createdBy: 'alice' });
    const waiting = await runUntil(s, run.run.id, (v) => v.run.status === 'WAITING', 'the run waiting at its gate');
    expect(statuses(waiting)).toEqual({ a: 'COMPLETED', b: 'COMPLETED', c: 'COMPLETED', d: 'COMPLETED', signOff: 'WAITING', e: 'PENDING' });
    // d's input was made of both parents' results.
    expect(stepOf(waiting, 'd').result).toEqual({ value: { b: 'x:a>b', cAttempt: 1 }, attempt: 1 });
    // b and c ran side by side: both were released by a's completion, before either ended.
    const events = await s.runs.events(run.run.id);
    const started = (name: string) => events.find((e) => e.step === name && e.status === 'ACTIVE')!.seq;
    const finished = (name: string) => events.find((e) => e.step === name && e.status === 'COMPLETED')!.seq;
    expect(Math.max(started('b'), started('c'))).toBeLessThan(Math.min(finished('b'), finished('c')));
    // Each step's job knows its run and step, and was made once.
    const jobs = await s.ledger.runs.jobsOf(run.run.id);
    expect(jobs.map((job) => job.step).sort()).toEqual(['a', 'b', 'c', 'd']);
    expect(jobs.every((job) => job.runId === run.run.id && job.createdBy === 'alice')).toBe(true);

    const approved = await s.runs.approve(run.run.id, 'signOff', 'reviewer', 'scope looks right');
    expect(stepOf(approved, 'signOff')).toMatchObject({ status: 'COMPLETED', decidedBy: 'reviewer', comment: 'scope looks right' });
    const done = await runUntil(s, run.run.id, (v) => v.run.status === 'COMPLETED', 'the run completed');
    expect(done.steps.every((step) => step.status === 'COMPLETED')).toBe(true);
    expect((await s.runs.events(run.run.id)).find((e) => e.step === 'signOff' && e.status === 'COMPLETED')).toMatchObject({
      actor: 'reviewer',
      message: 'approved: scope looks right',
    });
    await expectLawfulHistory(s, run.run.id);
  });

  it('fails the run when a step fails after its retries, holds its dependents, and retryRun keeps what completed', async () => {
    const s = system();
    const { run } = await s.runs.start('testDiamond', { tag: 'f', failAt: 'c' });
    const failed = await runUntil(s, run.run.id, (v) => v.run.status === 'FAILED' && stepOf(v, 'b').status === 'COMPLETED', 'the run failed');
    expect(failed.run.reason).toMatch(/^step c failed: /);
    expect(statuses(failed)).toMatchObject({ a: 'COMPLETED', b: 'COMPLETED', c: 'FAILED', d: 'PENDING', e: 'PENDING' });
    const jobsBefore = await s.ledger.runs.jobsOf(run.run.id);

    // A retry of the failed step and what follows it; a and b keep their results and their jobs.
    const resultOfB = stepOf(failed, 'b').result;
    await s.runs.retry(run.run.id, 'operator');
    const retried = await runUntil(s, run.run.id, (v) => stepOf(v, 'c').generation === 1 && stepOf(v, 'c').status === 'FAILED', 'c failed again');
    expect(stepOf(retried, 'a').jobId).toBe(stepOf(failed, 'a').jobId);
    expect(stepOf(retried, 'b')).toMatchObject({ jobId: stepOf(failed, 'b').jobId, result: resultOfB, generation: 0 });
    const jobsAfter = await s.ledger.runs.jobsOf(run.run.id);
    expect(jobsAfter.filter((job) => job.step === 'c')).toHaveLength(2);
    expect(jobsAfter.length).toBe(jobsBefore.length + 1);
    await expectLawfulHistory(s, run.run.id);
  });

  it('re-runs a step and everything downstream of it, keeping what is upstream', async () => {
    const s = system();
    const { run } = await s.runs.start('testDiamond', { tag: 'r' });
    const waiting = await runUntil(s, run.run.id, (v) => v.run.status === 'WAITING', 'waiting at the gate');
    const rerun = await s.runs.rerunFrom(run.run.id, 'b', 'operator');
    expect(stepOf(rerun, 'b').generation).toBe(1);
    const again = await runUntil(s, run.run.id, (v) => v.run.status === 'WAITING' && stepOf(v, 'd').generation === 1, 'the gate open again');
    for (const name of ['a', 'c']) expect(stepOf(again, name).jobId).toBe(stepOf(waiting, name).jobId);
    for (const name of ['b', 'd']) {
      expect(stepOf(again, name).jobId).not.toBe(stepOf(waiting, name).jobId);
      expect(stepOf(again, name).generation).toBe(1);
    }
    expect(stepOf(again, 'signOff')).toMatchObject({ status: 'WAITING', generation: 1 });
    await expect(s.runs.rerunFrom(run.run.id, 'nope', null)).rejects.toMatchObject({ code: 'STEP_NOT_FOUND' });
    await expectLawfulHistory(s, run.run.id);
  });

  it('a rejected gate fails the run with who and why; a decision on a gate that is not open is refused', async () => {
    const s = system();
    const { run } = await s.runs.start('testDiamond', { tag: 'j' });
    await runUntil(s, run.run.id, (v) => v.run.status === 'WAITING', 'waiting at the gate');
    await expect(s.runs.approve(run.run.id, 'a', 'reviewer')).rejects.toMatchObject({ code: 'ILLEGAL_TRANSITION' });
    const rejected = await s.runs.reject(run.run.id, 'signOff', 'reviewer', 'mappings are wrong');
    expect(rejected.run).toMatchObject({ status: 'FAILED', reason: 'step signOff was rejected: rejected by reviewer: mappings are wrong' });
    expect(stepOf(rejected, 'signOff')).toMatchObject({ status: 'REJECTED', decidedBy: 'reviewer', comment: 'mappings are wrong' });
    expect(stepOf(rejected, 'e').status).toBe('PENDING');
    await expect(s.runs.approve(run.run.id, 'signOff', 'reviewer')).rejects.toMatchObject({ code: 'ILLEGAL_TRANSITION' });
    await expectLawfulHistory(s, run.run.id);
  });

  it('a gate past its timeout counts as rejected', async () => {
    const s = system();
    const { run } = await s.runs.start('testHurried', {});
    const failed = await runUntil(s, run.run.id, (v) => v.run.status === 'FAILED', 'the run failed at its gate');
    expect(stepOf(failed, 'quickSignOff')).toMatchObject({ status: 'REJECTED', error: 'no decision before it was due' });
  });

  it('cancelRun cancels the running step, and nothing starts after it', async () => {
    const s = system();
    const { run } = await s.runs.start('testDiamond', { tag: 'c', slowMs: 60_000 });
    await runUntil(s, run.run.id, (v) => v.run.status === 'WAITING', 'waiting at the gate');
    await s.runs.approve(run.run.id, 'signOff', 'reviewer');
    await runUntil(s, run.run.id, (v) => stepOf(v, 'e').job?.status === 'RUNNING', 'e running');
    const cancelled = await s.runs.cancel(run.run.id, 'operator');
    expect(cancelled.run).toMatchObject({ status: 'CANCELLED', reason: 'cancelled by operator' });
    const settled = await runUntil(s, run.run.id, (v) => stepOf(v, 'e').status === 'CANCELLED', 'e cancelled');
    expect(stepOf(settled, 'e').job?.status).toBe('CANCELLED');
    // Rounds of the sweep later, no job of the run is live and none was added.
    const jobs = await s.ledger.runs.jobsOf(run.run.id);
    await new Promise((resolve) => setTimeout(resolve, 1_000)); // three rounds of the sweep (300 ms)
    const later = await s.ledger.runs.jobsOf(run.run.id);
    expect(later.map((job) => job.id)).toEqual(jobs.map((job) => job.id));
    expect(later.every((job) => ['COMPLETED', 'CANCELLED'].includes(job.status))).toBe(true);
    // retryRun starts what was cancelled again, as a new job.
    const retried = await s.runs.retry(run.run.id, 'operator');
    expect(retried.run.status).toBe('RUNNING');
    expect(stepOf(retried, 'e')).toMatchObject({ status: 'ACTIVE', generation: 1 });
    await s.runs.cancel(run.run.id, 'operator');
  });

  it('starting a run takes an idempotency key: the same key answers the same run', async () => {
    const s = system();
    const key = uniqueName('key');
    const first = await s.runs.start('testDiamond', { tag: 'k' }, { idempotencyKey: key });
    const second = await s.runs.start('testDiamond', { tag: 'other' }, { idempotencyKey: key });
    expect(second).toMatchObject({ deduplicated: true });
    expect(second.run.run.id).toBe(first.run.run.id);
    await expect(s.runs.start('testDiamond', { tag: 1 })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
  });

  it('the sweep advances a run whose step ended in a process that did not advance it', async () => {
    const s = system();
    const { run } = await s.runs.start('testDiamond', { tag: 's' });
    await runUntil(s, run.run.id, (v) => v.run.status === 'WAITING', 'waiting at the gate');
    // Decide the gate behind the service's back, as a process that died before advancing would leave it.
    await s.ledger.runs.moveStep({ runId: run.run.id, step: 'signOff', transition: 'approve', to: 'COMPLETED', actor: 'ghost' });
    const done = await runUntil(s, run.run.id, (v) => v.run.status === 'COMPLETED', 'the sweep completing the run');
    expect(stepOf(done, 'e').status).toBe('COMPLETED');
  });

  it('the sweep cancels the running job of a run cancelled by a process that died before it cancelled its jobs', async () => {
    const s = system();
    const { run } = await s.runs.start('testDiamond', { tag: 'd', slowMs: 60_000 });
    await runUntil(s, run.run.id, (v) => v.run.status === 'WAITING', 'waiting at the gate');
    await s.runs.approve(run.run.id, 'signOff', 'reviewer');
    await runUntil(s, run.run.id, (v) => stepOf(v, 'e').job?.status === 'RUNNING', 'e running');
    // The run's row says CANCELLED; nobody cancelled its jobs.
    await s.ledger.runs.moveRun({ runId: run.run.id, transition: 'cancel', to: 'CANCELLED', reason: 'cancelled' });
    const settled = await runUntil(s, run.run.id, (v) => stepOf(v, 'e').status === 'CANCELLED', 'the sweep cancelling e');
    expect(stepOf(settled, 'e').job?.status).toBe('CANCELLED');
  });

  it('defineWorkflow refuses a parent defined after its child, a duplicate step, a gate with no parent', () => {
    const base = () => defineWorkflow('bad', { input: z.object({}) });
    // @ts-expect-error -- "later" is not a step yet: the builder's types refuse it too
    expect(() => base().step('a', echo, { after: ['later'], input: () => ({}) })).toThrow(/parent "later" must be defined before it/);
    expect(() => base().step('a', echo, { input: () => ({}) }).step('a', echo, { input: () => ({}) })).toThrow(/defined twice/);
    expect(() => base().gate('g', { after: [] })).toThrow(/a gate follows at least one step/);
  });
});
