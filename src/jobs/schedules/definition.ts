/**
 * What a schedule is: a task, its input, a cron expression and the IANA time zone it is read in.
 * The next fire times come from croner (a kept cron parser with time zones), whose rules for the
 * days a zone changes its clocks are the ones README states:
 *
 * - a time that does not exist that day (02:30 when clocks jump 02:00 → 03:00) fires at the first
 *   moment that exists after it (03:00), once;
 * - a time that happens twice (01:30 when clocks fall back 02:00 → 01:00) fires once, at its first
 *   occurrence; an expression that fires every N minutes or hours keeps firing through both, by
 *   the clock on the wall (01:00, 01:30, 01:00, 01:30 …).
 *
 * Cron expressions have five fields (minute hour day month weekday) or six (seconds first).
 */
import { Cron } from 'croner';
import type { FieldIssue } from '../../lib/issues.ts';

/** What a tick missed while nothing ran does: one job for the latest missed tick, or none. */
export type CatchUp = 'once' | 'skip';
export const CATCH_UP_POLICIES: readonly CatchUp[] = ['once', 'skip'];

export interface ScheduleDefinition<I = unknown> {
  /** Unique; a schedule defined in code keeps its row (and its pause) across restarts by this name. */
  readonly name: string;
  readonly task: string;
  readonly input: I;
  readonly cron: string;
  /** IANA time zone the cron is read in (default UTC). */
  readonly timezone?: string;
  /** Default 'once'. */
  readonly catchUp?: CatchUp;
}

/** A schedule in code: written to the ledger at startup, by its name. */
export function defineSchedule<I>(definition: ScheduleDefinition<I>): ScheduleDefinition<I> {
  const issues = scheduleIssues(definition);
  if (issues.length > 0) throw new Error(`Schedule ${definition.name}: ${issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return definition;
}

const MAX_NAME = 100;

/** What is wrong with a schedule's name, cron, time zone or catch-up policy, each under its field. */
export function scheduleIssues(s: { name?: string; cron: string; timezone?: string; catchUp?: string }): FieldIssue[] {
  const issues: FieldIssue[] = [];
  if (s.name !== undefined && (s.name.trim().length === 0 || s.name.length > MAX_NAME)) {
    issues.push({ path: ['name'], message: `name must be 1 to ${MAX_NAME} characters` });
  }
  const timezone = s.timezone ?? 'UTC';
  if (!isTimeZone(timezone)) issues.push({ path: ['timezone'], message: `"${timezone}" is not an IANA time zone (e.g. Europe/Paris, America/New_York, UTC)` });
  const fields = s.cron.trim().split(/\s+/).length;
  if (fields < 5 || fields > 6) {
    issues.push({ path: ['cron'], message: `cron must have 5 fields (minute hour day month weekday) or 6 (seconds first), not ${fields}` });
  } else {
    try {
      const next = cronOf(s.cron, isTimeZone(timezone) ? timezone : 'UTC').nextRun(new Date());
      if (!next) issues.push({ path: ['cron'], message: `"${s.cron}" never fires` });
    } catch (error) {
      issues.push({ path: ['cron'], message: `"${s.cron}" is not a cron expression: ${(error as Error).message}` });
    }
  }
  if (s.catchUp !== undefined && !(CATCH_UP_POLICIES as readonly string[]).includes(s.catchUp)) {
    issues.push({ path: ['catchUp'], message: `catchUp must be one of ${CATCH_UP_POLICIES.join(', ')}` });
  }
  return issues;
}

/** The first tick strictly after `after`, or null when the expression has none left. */
export function nextTick(cron: string, timezone: string, after: Date): Date | null {
  return cronOf(cron, timezone).nextRun(after);
}

/** The latest tick at or before `at`, or null when there is none. */
export function latestTick(cron: string, timezone: string, at: Date): Date | null {
  // croner looks strictly before its reference and drops milliseconds: look from a second on.
  const candidates = cronOf(cron, timezone).previousRuns(2, new Date(at.getTime() + 1_000));
  return candidates.find((tick) => tick <= at) ?? null;
}

/** The next `count` ticks after `after`. */
export function nextTicks(cron: string, timezone: string, after: Date, count: number): Date[] {
  return cronOf(cron, timezone).nextRuns(count, after);
}

function cronOf(cron: string, timezone: string): Cron {
  // paused: croner only evaluates; the scheduler (and its clock) decides when anything fires.
  return new Cron(cron, { timezone, paused: true, mode: '5-or-6-parts' });
}

function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}
