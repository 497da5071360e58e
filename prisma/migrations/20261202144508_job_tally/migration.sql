-- CreateTable
CREATE TABLE "JobTally" (
    "bucket" TIMESTAMPTZ(3) NOT NULL,
    "type" TEXT NOT NULL,
    "status" "JobStatus" NOT NULL,
    "shard" INTEGER NOT NULL,
    "count" INTEGER NOT NULL DEFAULT 0,
    "ended" INTEGER NOT NULL DEFAULT 0,
    "durationMs" DOUBLE PRECISION NOT NULL DEFAULT 0,

    CONSTRAINT "JobTally_pkey" PRIMARY KEY ("bucket","type","status","shard")
);

-- CreateTable
CREATE TABLE "LedgerRetention" (
    "singleton" INTEGER NOT NULL DEFAULT 1,
    "prunedJobs" BIGINT NOT NULL DEFAULT 0,
    "lastPrunedAt" TIMESTAMPTZ(3),

    CONSTRAINT "LedgerRetention_pkey" PRIMARY KEY ("singleton")
);

-- Written by hand (Prisma does not model triggers): the tally follows every status change in the
-- statement that makes it. One statement-level trigger, so a batch of completions costs one
-- upsert per (task, status), keys in sorted order so concurrent batches cannot deadlock on them.
-- The body is an E-string with each semicolon written \073, not a dollar-quoted one: the Prisma
-- schema engine over a driver adapter (@prisma/adapter-pg executeScript) splits a migration at
-- every semicolon, wherever it is.
CREATE FUNCTION job_tally() RETURNS trigger LANGUAGE plpgsql AS E'
BEGIN
  INSERT INTO "JobTally" AS t ("bucket", "type", "status", "shard", "count", "ended", "durationMs")
  SELECT date_trunc(''minute'', now()), d."type", d."status", pg_backend_pid() % 4,
         sum(d.delta)::int, sum(d.ended)::int, coalesce(sum(d.ms), 0)
  FROM (
    SELECT n."type", n."status", 1 AS delta, 1 AS ended,
           extract(epoch FROM (n."finishedAt" - n."startedAt")) * 1000 AS ms
      FROM new_rows n JOIN old_rows o ON o."id" = n."id"
     WHERE n."status" <> o."status" AND n."status" IN (''COMPLETED'', ''FAILED'', ''CANCELLED'')
    UNION ALL
    SELECT o."type", o."status", -1, 0, NULL
      FROM new_rows n JOIN old_rows o ON o."id" = n."id"
     WHERE n."status" <> o."status" AND o."status" IN (''COMPLETED'', ''FAILED'', ''CANCELLED'')
  ) d
  GROUP BY d."type", d."status"
  ORDER BY d."type", d."status"
  ON CONFLICT ("bucket", "type", "status", "shard") DO UPDATE
    SET "count" = t."count" + excluded."count",
        "ended" = t."ended" + excluded."ended",
        "durationMs" = t."durationMs" + excluded."durationMs"\073
  RETURN NULL\073
END ';

CREATE TRIGGER job_tally AFTER UPDATE ON "Job"
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION job_tally();

-- The jobs that ended before this migration, in the day they ended: an upgrade keeps its counts.
INSERT INTO "JobTally" ("bucket", "type", "status", "shard", "count", "ended", "durationMs")
SELECT date_trunc('day', coalesce("finishedAt", "createdAt")), "type", "status", -1, count(*)::int, count(*)::int,
       coalesce(sum(extract(epoch FROM ("finishedAt" - "startedAt")) * 1000), 0)
  FROM "Job" WHERE "status" IN ('COMPLETED', 'FAILED', 'CANCELLED')
 GROUP BY 1, 2, 3;

INSERT INTO "LedgerRetention" ("singleton") VALUES (1);
