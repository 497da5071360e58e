/**
 * defineWorkflow: a DAG of steps in code, each a task or a sign-off gate. A step names its parents
 * (several: a chord); steps whose parents are done run in parallel (a group); its input is
 * computed from the run's input and its parents' results, typed by the builder. Parents must be
 * defined before their children, so every workflow is acyclic by construction.
 *
 *   defineWorkflow('reportTesting', { input })
 *     .step('attributes', generateLlmAttributes, { input: (run) => ({ reportId: run.reportId }) })
 *     .step('mappings', regeneratePdeMappings, { after: ['attributes'], input: (run) => … })
 *     .gate('scopingSignOff', { after: ['mappings'], timeout: '7d' })
 *     .build();
 */
import type { z } from 'zod';
import { parsePeriod } from '../../lib/duration.ts';
import type { PrismaClient } from '../../generated/prisma/client.ts';
import type { FieldIssue } from '../../lib/issues.ts';
import type { AnyTask, TaskDefinition, TaskDeps } from '../task.ts';
import type { TaskRegistry } from '../task-registry.ts';

/** What a gate step's dependents get as its result: the decision. */
export interface GateDecision {
  decision: 'APPROVED';
  by: string;
  comment: string | null;
  at: string;
}

export interface StepSpec {
  readonly name: string;
  readonly kind: 'TASK' | 'GATE';
  readonly parents: readonly string[];
  readonly description?: string;
  /** TASK: the task it runs, and its input from the run's input and the parents' results. */
  readonly task?: AnyTask;
  readonly input?: (run: unknown, parents: Record<string, unknown>) => unknown;
  /** GATE: how long it may wait for a decision (ms) before it counts as rejected; none: forever. */
  readonly timeoutMs?: number;
}

/** What a workflow's `check` is given: the ledger's data and the tasks' collaborators. */
export interface WorkflowCheckContext {
  db: PrismaClient;
  deps: TaskDeps;
}

export interface WorkflowDefinition<I = unknown> {
  readonly name: string;
  readonly description?: string;
  readonly input: z.ZodType<I>;
  /** Checks the input against the data when a run starts (an id that names nothing): issues by field path refuse it. */
  readonly check?: (input: I, ctx: WorkflowCheckContext) => Promise<FieldIssue[]>;
  /** In definition order: every step after its parents. */
  readonly steps: readonly StepSpec[];
}

const NAME = /^[a-z][A-Za-z0-9]*$/;

/** A workflow's definition but its steps. */
type WorkflowHead<I> = Omit<WorkflowDefinition<I>, 'steps'>;

export class WorkflowBuilder<I, R extends Record<string, unknown>> {
  readonly #definition: WorkflowHead<I>;
  readonly #steps: StepSpec[];
  constructor(definition: WorkflowHead<I>, steps: StepSpec[] = []) {
    this.#definition = definition;
    this.#steps = steps;
  }

  /** A task step: runs `task` once its parents (`after`) are done, with `input` computed from them. */
  step<N extends string, TI, TO, P extends keyof R & string = never>(
    name: N,
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- any checkpoint type; TI: the input as a caller writes it
    task: TaskDefinition<any, TO, any, TI>,
    opts: { after?: readonly P[]; description?: string; input: (run: I, parents: Pick<R, P>) => TI },
  ): WorkflowBuilder<I, R & Record<N, TO>> {
    return this.#add({
      name,
      kind: 'TASK',
      parents: opts.after ?? [],
      task,
      input: opts.input as StepSpec['input'],
      ...(opts.description ? { description: opts.description } : {}),
    });
  }

  /** A sign-off gate: opens once its parents are done and waits for approveStep or rejectStep. */
  gate<N extends string, P extends keyof R & string>(
    name: N,
    opts: { after: readonly P[]; description?: string; timeout?: string },
  ): WorkflowBuilder<I, R & Record<N, GateDecision>> {
    const timeoutMs = opts.timeout ? parsePeriod(opts.timeout) : undefined;
    if (timeoutMs === Infinity) throw new Error(`gate "${name}": a timeout of "forever" is no timeout; leave it out`);
    return this.#add({
      name,
      kind: 'GATE',
      parents: opts.after,
      ...(timeoutMs ? { timeoutMs } : {}),
      ...(opts.description ? { description: opts.description } : {}),
    });
  }

  build(): WorkflowDefinition<I> {
    if (this.#steps.length === 0) throw new Error(`workflow "${this.#definition.name}" has no steps`);
    return { ...this.#definition, steps: [...this.#steps] };
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the builder's type grows with each step
  #add(spec: StepSpec): WorkflowBuilder<I, any> {
    const where = `workflow "${this.#definition.name}", step "${spec.name}"`;
    if (!NAME.test(spec.name)) throw new Error(`${where}: a step name is camelCase, e.g. "scopingSignOff"`);
    if (this.#steps.some((step) => step.name === spec.name)) throw new Error(`${where}: defined twice`);
    for (const parent of spec.parents) {
      if (!this.#steps.some((step) => step.name === parent)) throw new Error(`${where}: its parent "${parent}" must be defined before it`);
    }
    if (spec.kind === 'GATE' && spec.parents.length === 0) throw new Error(`${where}: a gate follows at least one step`);
    return new WorkflowBuilder(this.#definition, [...this.#steps, spec]);
  }
}

/** Starts a workflow's definition; add steps and gates, then build(). */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type -- no step results yet
export function defineWorkflow<I>(name: string, opts: Omit<WorkflowHead<I>, 'name'>): WorkflowBuilder<I, {}> {
  if (!NAME.test(name)) throw new Error(`Workflow name "${name}" must be camelCase, e.g. "reportTesting"`);
  return new WorkflowBuilder({ name, ...opts });
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a registry holds workflows of every input type
export type AnyWorkflow = WorkflowDefinition<any>;

/** The workflows a process knows, checked against its tasks when it starts. */
export class WorkflowRegistry {
  readonly #byName = new Map<string, AnyWorkflow>();
  constructor(workflows: readonly AnyWorkflow[], tasks: TaskRegistry) {
    for (const workflow of workflows) {
      if (this.#byName.has(workflow.name)) throw new Error(`workflow "${workflow.name}" is defined twice`);
      for (const step of workflow.steps) {
        if (step.task && !tasks.has(step.task.name)) {
          throw new Error(`workflow "${workflow.name}", step "${step.name}": task "${step.task.name}" is not registered`);
        }
      }
      this.#byName.set(workflow.name, workflow);
    }
  }

  get(name: string): AnyWorkflow | undefined {
    return this.#byName.get(name);
  }

  list(): AnyWorkflow[] {
    return [...this.#byName.values()];
  }
}

/** Every step downstream of `names` (their children, theirs, …), `names` included. */
export function downstreamOf(workflow: AnyWorkflow, names: readonly string[]): string[] {
  const found = new Set(names);
  for (const step of workflow.steps) {
    if (step.parents.some((parent) => found.has(parent))) found.add(step.name);
  }
  return workflow.steps.map((step) => step.name).filter((name) => found.has(name));
}
