/**
 * Schedules as a service: those in code written at startup, those made at run time (GraphQL), a
 * pause, a resume, a delete, and what a schedule will do next. The firing is the Scheduler's.
 */
import { describeIssues, type FieldIssue } from '../../lib/issues.ts';
import { timeOrderedUuid } from '../../lib/uuid.ts';
import { InvalidInputError } from '../errors.ts';
import type { Job } from '../ledger/index.ts';
import type { NewSchedule, ScheduleLedger, ScheduleRow } from '../ledger/schedules.ts';
import { scheduleIssues, nextTick, nextTicks, type CatchUp, type ScheduleDefinition } from './definition.ts';
import type { Scheduler } from './scheduler.ts';

export type Schedule = ScheduleRow;

export interface NewScheduleRequest {
  /** Default: the task's name and a short id. */
  name?: string | null;
  task: string;
  input: unknown;
  cron: string;
  timezone?: string | null;
  catchUp?: CatchUp | null;
  createdBy?: string | null;
}

export interface SchedulesOptions {
  ledger: ScheduleLedger;
  scheduler: Scheduler;
  /** The input as the task would take it, or why not (issues under `input`, `task`). */
  check(task: string, input: unknown): Promise<FieldIssue[]>;
  now?: () => number;
}

export class Schedules {
  readonly #opts: SchedulesOptions;
  readonly #now: () => number;

  constructor(opts: SchedulesOptions) {
    this.#opts = opts;
    this.#now = opts.now ?? Date.now;
  }

  /** Writes the schedules defined in code (by name; see ScheduleLedger.syncCode). Throws when one does not fit its task. */
  async syncCode(definitions: readonly ScheduleDefinition[]): Promise<void> {
    const names = new Set<string>();
    const rows: NewSchedule[] = [];
    for (const definition of definitions) {
      if (names.has(definition.name)) throw new Error(`Schedule "${definition.name}" is defined twice`);
      names.add(definition.name);
      const issues = [...scheduleIssues(definition), ...(await this.#opts.check(definition.task, definition.input))];
      if (issues.length > 0) throw new Error(`Schedule ${definition.name}: ${describeIssues(issues)}`);
      rows.push(this.#row({ ...definition, source: 'code', createdBy: null }));
    }
    await this.#opts.ledger.syncCode(rows);
    this.#opts.scheduler.wake();
  }

  async create(request: NewScheduleRequest): Promise<Schedule> {
    const timezone = request.timezone ?? 'UTC';
    const issues = [
      ...scheduleIssues({ ...(request.name != null ? { name: request.name } : {}), cron: request.cron, timezone, ...(request.catchUp ? { catchUp: request.catchUp } : {}) }),
      ...(await this.#opts.check(request.task, request.input)),
    ];
    if (issues.length > 0) throw new InvalidInputError(`Invalid schedule: ${describeIssues(issues)}`, issues);
    const id = timeOrderedUuid();
    const row = await this.#opts.ledger.create(
      this.#row({
        id,
        name: request.name ?? `${request.task}-${id.slice(-8)}`,
        task: request.task,
        input: request.input,
        cron: request.cron,
        timezone,
        catchUp: request.catchUp ?? 'once',
        source: 'api',
        createdBy: request.createdBy ?? null,
      }),
    );
    this.#opts.scheduler.wake();
    return row;
  }

  list(): Promise<Schedule[]> {
    return this.#opts.ledger.list();
  }

  get(id: string): Promise<Schedule> {
    return this.#opts.ledger.get(id);
  }

  pause(id: string): Promise<Schedule> {
    return this.#opts.ledger.setPaused(id, true);
  }

  /** Goes on from the first tick after now: ticks that fell in the pause are not made up. */
  async resume(id: string): Promise<Schedule> {
    const current = await this.#opts.ledger.get(id);
    const row = await this.#opts.ledger.setPaused(id, false, nextTick(current.cron, current.timezone, new Date(this.#now())));
    this.#opts.scheduler.wake();
    return row;
  }

  delete(id: string): Promise<Schedule> {
    return this.#opts.ledger.delete(id);
  }

  /** Its next `count` ticks (none while paused). */
  nextTicks(schedule: Schedule, count: number): Date[] {
    if (schedule.paused || !schedule.nextRunAt) return [];
    return [schedule.nextRunAt, ...nextTicks(schedule.cron, schedule.timezone, schedule.nextRunAt, Math.max(0, count - 1))];
  }

  /** The jobs a schedule made, newest first. */
  jobs(scheduleId: string, first: number): Promise<Job[]> {
    return this.#opts.ledger.jobs(scheduleId, first);
  }

  #row(s: Omit<NewSchedule, 'id' | 'nextRunAt' | 'timezone' | 'catchUp'> & { id?: string; timezone?: string; catchUp?: string }): NewSchedule {
    const timezone = s.timezone ?? 'UTC';
    return {
      id: s.id ?? timeOrderedUuid(),
      name: s.name,
      task: s.task,
      input: s.input,
      cron: s.cron,
      timezone,
      catchUp: s.catchUp ?? 'once',
      source: s.source,
      createdBy: s.createdBy,
      nextRunAt: nextTick(s.cron, timezone, new Date(this.#now())),
    };
  }
}
