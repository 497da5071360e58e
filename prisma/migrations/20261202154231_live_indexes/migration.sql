-- DropIndex
DROP INDEX "Job_status_dispatchedAt_idx";

-- DropIndex
DROP INDEX "Job_status_heartbeatAt_idx";

-- DropIndex
DROP INDEX "Job_type_idempotencyKey_key";

-- CreateIndex
CREATE INDEX "Job_waiting_idx" ON "Job"("priority" DESC, "runAt") WHERE (status = ANY (ARRAY['QUEUED'::"JobStatus", 'RETRYING'::"JobStatus"]) AND "runAt" IS NOT NULL);

-- CreateIndex
CREATE INDEX "Job_held_idx" ON "Job"("lockedBy") WHERE (status = ANY (ARRAY['RUNNING'::"JobStatus", 'CANCELLING'::"JobStatus"]) AND "lockedBy" IS NOT NULL);

-- CreateIndex
CREATE INDEX "Job_type_createdAt_idx" ON "Job"("type", "createdAt");

-- CreateIndex
CREATE UNIQUE INDEX "Job_type_idempotencyKey_key" ON "Job"("type", "idempotencyKey") WHERE ("idempotencyKey" IS NOT NULL);

-- Written by hand (Prisma does not model storage parameters): room on each page for HOT updates
-- (a lease, a confirmation, a heartbeat, progress), which then write no index entry.
ALTER TABLE "Job" SET (fillfactor = 80);
