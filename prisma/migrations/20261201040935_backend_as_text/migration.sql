-- Job.backend and Worker.backend become text: a new queue backend is a row in
-- src/adapters/backends.ts, not a migration. Hand-edited from `npm run db:diff`, which drops and
-- re-adds the columns: converting in place keeps every existing job's backend.

-- AlterTable
ALTER TABLE "Job" ALTER COLUMN "backend" SET DATA TYPE TEXT USING "backend"::text;

-- AlterTable
ALTER TABLE "Worker" ALTER COLUMN "backend" SET DATA TYPE TEXT USING "backend"::text;

-- DropEnum
DROP TYPE "QueueBackend";
