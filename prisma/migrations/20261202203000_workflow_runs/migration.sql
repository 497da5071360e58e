-- CreateEnum
CREATE TYPE "RunStatus" AS ENUM ('RUNNING', 'WAITING', 'COMPLETED', 'FAILED', 'CANCELLED');

-- CreateEnum
CREATE TYPE "StepKind" AS ENUM ('TASK', 'GATE');

-- CreateEnum
CREATE TYPE "StepStatus" AS ENUM ('PENDING', 'ACTIVE', 'WAITING', 'COMPLETED', 'FAILED', 'CANCELLED', 'REJECTED');

-- AlterTable
ALTER TABLE "Job" ADD COLUMN     "runId" UUID,
ADD COLUMN     "step" TEXT;

-- CreateTable
CREATE TABLE "WorkflowRun" (
    "id" UUID NOT NULL,
    "workflow" TEXT NOT NULL,
    "status" "RunStatus" NOT NULL DEFAULT 'RUNNING',
    "input" JSONB NOT NULL,
    "idempotencyKey" TEXT,
    "createdBy" TEXT,
    "reason" TEXT,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "finishedAt" TIMESTAMPTZ(3),
    "lastSeq" INTEGER NOT NULL DEFAULT 0,

    CONSTRAINT "WorkflowRun_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "RunStep" (
    "runId" UUID NOT NULL,
    "position" INTEGER NOT NULL,
    "name" TEXT NOT NULL,
    "kind" "StepKind" NOT NULL,
    "task" TEXT,
    "parents" TEXT[],
    "status" "StepStatus" NOT NULL DEFAULT 'PENDING',
    "jobId" UUID,
    "generation" INTEGER NOT NULL DEFAULT 0,
    "result" JSONB,
    "error" TEXT,
    "startedAt" TIMESTAMPTZ(3),
    "finishedAt" TIMESTAMPTZ(3),
    "dueAt" TIMESTAMPTZ(3),
    "decidedBy" TEXT,
    "decidedAt" TIMESTAMPTZ(3),
    "comment" TEXT,

    CONSTRAINT "RunStep_pkey" PRIMARY KEY ("runId","name")
);

-- CreateTable
CREATE TABLE "RunEvent" (
    "runId" UUID NOT NULL,
    "seq" INTEGER NOT NULL,
    "at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "step" TEXT,
    "status" TEXT NOT NULL,
    "message" TEXT,
    "actor" TEXT,

    CONSTRAINT "RunEvent_pkey" PRIMARY KEY ("runId","seq")
);

-- CreateIndex
CREATE INDEX "WorkflowRun_live_idx" ON "WorkflowRun"("updatedAt") WHERE (status = ANY (ARRAY['RUNNING'::"RunStatus", 'WAITING'::"RunStatus"]));

-- CreateIndex
CREATE INDEX "WorkflowRun_createdAt_idx" ON "WorkflowRun"("createdAt");

-- CreateIndex
CREATE UNIQUE INDEX "WorkflowRun_workflow_idempotencyKey_key" ON "WorkflowRun"("workflow", "idempotencyKey") WHERE ("idempotencyKey" IS NOT NULL);

-- CreateIndex
CREATE INDEX "RunStep_active_idx" ON "RunStep"("runId") WHERE (status = 'ACTIVE'::"StepStatus");

-- CreateIndex
CREATE INDEX "Job_runId_idx" ON "Job"("runId") WHERE ("runId" IS NOT NULL);

-- AddForeignKey
ALTER TABLE "RunStep" ADD CONSTRAINT "RunStep_runId_fkey" FOREIGN KEY ("runId") REFERENCES "WorkflowRun"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "RunEvent" ADD CONSTRAINT "RunEvent_runId_fkey" FOREIGN KEY ("runId") REFERENCES "WorkflowRun"("id") ON DELETE CASCADE ON UPDATE CASCADE;
