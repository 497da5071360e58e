/**
 * Schedules in the ledger. A schedule's row holds its next tick; every process's scheduler reads
 * the due ones, enqueues the tick's job (keyed by schedule and tick, so only one job is made) and
 * then moves the row to the next tick with a compare-and-set on the tick it fired. A process that
 * dies between the two leaves the row due: the next scheduler enqueues the same key (deduplicated)
 * and moves it on.
 */
import type { LedgerDb } from '../../db/client.ts';
import type { Job } from '../../generated/prisma/client.ts';
import { CodedError } from '../../lib/errors.ts';
import { isUuid } from './sql.ts';

export interface ScheduleRow {
  id: string;
  name: string;
  task: string;
  input: unknown;
  cron: string;
  timezone: string;
  catchUp: string;
  /** 'code' (defineSchedule) or 'api' (createSchedule). */
  source: string;
  paused: boolean;
  nextRunAt: Date | null;
  lastRunAt: Date | null;
  lastJobId: string | null;
  createdBy: string | null;
  createdAt: Date;
  updatedAt: Date;
}

export type NewSchedule = Pick<ScheduleRow, 'id' | 'name' | 'task' | 'input' | 'cron' | 'timezone' | 'catchUp' | 'source' | 'nextRunAt' | 'createdBy'>;

export class ScheduleNotFoundError extends CodedError {
  constructor(id: string) {
    super('SCHEDULE_NOT_FOUND', `No schedule with id ${id}`);
  }
}

export class ScheduleNameTakenError extends CodedError {
  constructor(name: string) {
    super('SCHEDULE_NAME_TAKEN', `A schedule named "${name}" exists already`);
  }
}

export class ScheduleLedger {
  private readonly db: LedgerDb;
  constructor(db: LedgerDb) {
    this.db = db;
  }

  async create(schedule: NewSchedule): Promise<ScheduleRow> {
    const [row] = await this.db.query<ScheduleRow>(
      `INSERT INTO "Schedule" (id, name, task, input, cron, timezone, "catchUp", source, "nextRunAt", "createdBy")
       VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7, $8, $9, $10) ON CONFLICT (name) DO NOTHING RETURNING *`,
      [schedule.id, schedule.name, schedule.task, JSON.stringify(schedule.input ?? null), schedule.cron, schedule.timezone, schedule.catchUp, schedule.source, schedule.nextRunAt, schedule.createdBy],
    );
    if (!row) throw new ScheduleNameTakenError(schedule.name);
    return row;
  }

  /**
   * Writes the schedules defined in code, by name: a changed cron or time zone starts from the
   * next tick it computes (`nextRunAt` of each), an unchanged one keeps its row's next tick and its
   * pause; code schedules no longer defined are removed. `nextRunAt` is computed by the caller.
   */
  async syncCode(schedules: readonly NewSchedule[]): Promise<void> {
    await this.db.query(
      `WITH s AS (
         SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::timestamptz[])
           AS s(id, name, task, input, cron, timezone, "catchUp", "nextRunAt")),
       gone AS (DELETE FROM "Schedule" WHERE source = 'code' AND name <> ALL($2::text[]))
       INSERT INTO "Schedule" AS t (id, name, task, input, cron, timezone, "catchUp", source, "nextRunAt")
       SELECT id, name, task, input::jsonb, cron, timezone, "catchUp", 'code', "nextRunAt" FROM s ORDER BY name
       ON CONFLICT (name) DO UPDATE SET
         task = excluded.task, input = excluded.input, "catchUp" = excluded."catchUp", source = 'code',
         "nextRunAt" = CASE WHEN (t.cron, t.timezone) IS DISTINCT FROM (excluded.cron, excluded.timezone) OR t."nextRunAt" IS NULL
                            THEN excluded."nextRunAt" ELSE t."nextRunAt" END,
         cron = excluded.cron, timezone = excluded.timezone, "updatedAt" = now()
       WHERE (t.task, t.input, t.cron, t.timezone, t."catchUp", t.source) IS DISTINCT FROM
             (excluded.task, excluded.input, excluded.cron, excluded.timezone, excluded."catchUp", 'code')`,
      [
        schedules.map((s) => s.id),
        schedules.map((s) => s.name),
        schedules.map((s) => s.task),
        schedules.map((s) => JSON.stringify(s.input ?? null)),
        schedules.map((s) => s.cron),
        schedules.map((s) => s.timezone),
        schedules.map((s) => s.catchUp),
        schedules.map((s) => s.nextRunAt),
      ],
    );
  }

  list(): Promise<ScheduleRow[]> {
    return this.db.query<ScheduleRow>('SELECT * FROM "Schedule" ORDER BY name');
  }

  async get(id: string): Promise<ScheduleRow> {
    if (!isUuid(id)) throw new ScheduleNotFoundError(id);
    const [row] = await this.db.query<ScheduleRow>('SELECT * FROM "Schedule" WHERE id = $1::uuid', [id]);
    if (!row) throw new ScheduleNotFoundError(id);
    return row;
  }

  /** Pauses or resumes; a resume starts from `nextRunAt` (the first tick after now: what a pause skipped stays skipped). */
  async setPaused(id: string, paused: boolean, nextRunAt?: Date | null): Promise<ScheduleRow> {
    if (!isUuid(id)) throw new ScheduleNotFoundError(id);
    const [row] = await this.db.query<ScheduleRow>(
      `UPDATE "Schedule" SET paused = $2, "nextRunAt" = CASE WHEN $4 THEN $3::timestamptz ELSE "nextRunAt" END, "updatedAt" = now()
       WHERE id = $1::uuid RETURNING *`,
      [id, paused, nextRunAt ?? null, nextRunAt !== undefined],
    );
    if (!row) throw new ScheduleNotFoundError(id);
    return row;
  }

  async delete(id: string): Promise<ScheduleRow> {
    if (!isUuid(id)) throw new ScheduleNotFoundError(id);
    const [row] = await this.db.query<ScheduleRow>('DELETE FROM "Schedule" WHERE id = $1::uuid RETURNING *', [id]);
    if (!row) throw new ScheduleNotFoundError(id);
    return row;
  }

  /** Schedules whose next tick is at or before `now` (the scheduler's clock), oldest tick first. */
  due(now: Date, limit: number): Promise<ScheduleRow[]> {
    return this.db.query<ScheduleRow>(
      'SELECT * FROM "Schedule" WHERE NOT paused AND "nextRunAt" <= $1 ORDER BY "nextRunAt" LIMIT $2',
      [now, limit],
    );
  }

  /** The jobs a schedule made, newest first (Job_schedule_idx). */
  jobs(scheduleId: string, first: number): Promise<Job[]> {
    return this.db.query<Job>('SELECT * FROM "Job" WHERE "scheduleId" = $1::uuid ORDER BY "createdAt" DESC LIMIT $2', [scheduleId, first]);
  }

  /** The soonest next tick of any running schedule, or null. */
  async soonest(): Promise<Date | null> {
    const [row] = await this.db.query<{ at: Date | null }>('SELECT min("nextRunAt") AS at FROM "Schedule" WHERE NOT paused');
    return row?.at ?? null;
  }

  /**
   * Moves a schedule from the tick it was at to the next one, if no one has moved it yet (false:
   * another process did). `fired` is the tick a job was made for and that job, when there was one.
   */
  async advance(id: string, from: Date, to: Date | null, fired: { tick: Date; jobId: string } | null): Promise<boolean> {
    const rows = await this.db.query(
      `UPDATE "Schedule" SET "nextRunAt" = $3, "lastRunAt" = COALESCE($4, "lastRunAt"), "lastJobId" = COALESCE($5::uuid, "lastJobId"), "updatedAt" = now()
       WHERE id = $1::uuid AND "nextRunAt" = $2 RETURNING id`,
      [id, from, to, fired?.tick ?? null, fired?.jobId ?? null],
    );
    return rows.length > 0;
  }
}
