-- AlterTable
ALTER TABLE "Job" ADD COLUMN     "scheduleId" UUID,
ADD COLUMN     "tags" TEXT[] DEFAULT ARRAY[]::TEXT[],
ADD COLUMN     "traceparent" TEXT;

-- CreateTable
CREATE TABLE "Schedule" (
    "id" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "task" TEXT NOT NULL,
    "input" JSONB NOT NULL,
    "cron" TEXT NOT NULL,
    "timezone" TEXT NOT NULL,
    "catchUp" TEXT NOT NULL DEFAULT 'once',
    "source" TEXT NOT NULL,
    "paused" BOOLEAN NOT NULL DEFAULT false,
    "nextRunAt" TIMESTAMPTZ(3),
    "lastRunAt" TIMESTAMPTZ(3),
    "lastJobId" UUID,
    "createdBy" TEXT,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "Schedule_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "Schedule_name_key" ON "Schedule"("name");

-- CreateIndex
CREATE INDEX "Schedule_due_idx" ON "Schedule"("nextRunAt") WHERE (NOT paused);

-- CreateIndex
CREATE INDEX "Job_schedule_idx" ON "Job"("scheduleId", "createdAt") WHERE ("scheduleId" IS NOT NULL);

-- CreateIndex
CREATE INDEX "Job_tags_idx" ON "Job" USING GIN ("tags");

-- CreateIndex
CREATE INDEX "Job_input_idx" ON "Job" USING GIN ("input" jsonb_path_ops);
