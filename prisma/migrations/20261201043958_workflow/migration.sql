-- CreateEnum
CREATE TYPE "ScopeDecision" AS ENUM ('IN_SCOPE', 'OUT_OF_SCOPE');

-- CreateEnum
CREATE TYPE "SampleMethod" AS ENUM ('RANDOM', 'STRATIFIED', 'RISK_BASED');

-- CreateEnum
CREATE TYPE "RuleKind" AS ENUM ('NOT_NULL', 'RANGE', 'PATTERN', 'ALLOWED_VALUES', 'UNIQUE', 'MAX_LENGTH');

-- CreateEnum
CREATE TYPE "Severity" AS ENUM ('LOW', 'MEDIUM', 'HIGH');

-- CreateEnum
CREATE TYPE "TestRunStatus" AS ENUM ('RUNNING', 'COMPLETED');

-- AlterTable
ALTER TABLE "Job" ADD COLUMN     "checkpoint" JSONB;

-- CreateTable
CREATE TABLE "Report" (
    "id" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "regulation" TEXT NOT NULL,
    "description" TEXT NOT NULL,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "Report_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "DataElement" (
    "id" UUID NOT NULL,
    "dataset" TEXT NOT NULL,
    "table" TEXT NOT NULL,
    "column" TEXT NOT NULL,
    "dataType" TEXT NOT NULL,
    "description" TEXT NOT NULL,

    CONSTRAINT "DataElement_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Attribute" (
    "id" UUID NOT NULL,
    "reportId" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "description" TEXT NOT NULL,
    "dataType" TEXT NOT NULL,
    "isKey" BOOLEAN NOT NULL DEFAULT false,
    "isCritical" BOOLEAN NOT NULL DEFAULT false,
    "source" TEXT NOT NULL,
    "confidence" DOUBLE PRECISION NOT NULL,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "Attribute_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "PdeMapping" (
    "id" UUID NOT NULL,
    "attributeId" UUID NOT NULL,
    "dataElementId" UUID NOT NULL,
    "confidence" DOUBLE PRECISION NOT NULL,
    "rationale" TEXT NOT NULL,
    "method" TEXT NOT NULL,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "PdeMapping_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "ScopingRecommendation" (
    "id" UUID NOT NULL,
    "attributeId" UUID NOT NULL,
    "decision" "ScopeDecision" NOT NULL,
    "riskScore" DOUBLE PRECISION NOT NULL,
    "rationale" TEXT NOT NULL,
    "method" TEXT NOT NULL,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "ScopingRecommendation_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Dataset" (
    "id" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "description" TEXT NOT NULL DEFAULT '',
    "table" TEXT NOT NULL,
    "columns" JSONB NOT NULL,
    "recordCount" INTEGER NOT NULL DEFAULT 0,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "Dataset_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "DatasetRecord" (
    "datasetId" UUID NOT NULL,
    "row" INTEGER NOT NULL,
    "data" JSONB NOT NULL,

    CONSTRAINT "DatasetRecord_pkey" PRIMARY KEY ("datasetId","row")
);

-- CreateTable
CREATE TABLE "Sample" (
    "id" UUID NOT NULL,
    "reportId" UUID NOT NULL,
    "datasetId" UUID NOT NULL,
    "row" INTEGER NOT NULL,
    "stratum" TEXT,
    "method" "SampleMethod" NOT NULL,
    "seed" INTEGER NOT NULL,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "Sample_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "ProfilingRule" (
    "id" UUID NOT NULL,
    "attributeId" UUID NOT NULL,
    "column" TEXT,
    "kind" "RuleKind" NOT NULL,
    "params" JSONB NOT NULL,
    "severity" "Severity" NOT NULL,
    "rationale" TEXT NOT NULL,
    "method" TEXT NOT NULL,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "ProfilingRule_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "DatasetProfile" (
    "id" UUID NOT NULL,
    "datasetId" UUID NOT NULL,
    "rows" INTEGER NOT NULL,
    "columns" JSONB NOT NULL,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "DatasetProfile_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "TestRun" (
    "id" UUID NOT NULL,
    "reportId" UUID NOT NULL,
    "datasetId" UUID NOT NULL,
    "status" "TestRunStatus" NOT NULL DEFAULT 'RUNNING',
    "total" INTEGER NOT NULL DEFAULT 0,
    "passed" INTEGER NOT NULL DEFAULT 0,
    "failed" INTEGER NOT NULL DEFAULT 0,
    "startedAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "finishedAt" TIMESTAMPTZ(3),

    CONSTRAINT "TestRun_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "TestResult" (
    "id" UUID NOT NULL,
    "runId" UUID NOT NULL,
    "ruleId" UUID NOT NULL,
    "row" INTEGER NOT NULL,
    "passed" BOOLEAN NOT NULL,
    "actual" JSONB,
    "message" TEXT,

    CONSTRAINT "TestResult_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "Report_name_key" ON "Report"("name");

-- CreateIndex
CREATE UNIQUE INDEX "DataElement_dataset_table_column_key" ON "DataElement"("dataset", "table", "column");

-- CreateIndex
CREATE UNIQUE INDEX "Attribute_reportId_name_key" ON "Attribute"("reportId", "name");

-- CreateIndex
CREATE UNIQUE INDEX "PdeMapping_attributeId_dataElementId_key" ON "PdeMapping"("attributeId", "dataElementId");

-- CreateIndex
CREATE UNIQUE INDEX "ScopingRecommendation_attributeId_key" ON "ScopingRecommendation"("attributeId");

-- CreateIndex
CREATE UNIQUE INDEX "Dataset_name_key" ON "Dataset"("name");

-- CreateIndex
CREATE UNIQUE INDEX "Sample_reportId_datasetId_row_key" ON "Sample"("reportId", "datasetId", "row");

-- CreateIndex
CREATE INDEX "TestRun_reportId_datasetId_status_idx" ON "TestRun"("reportId", "datasetId", "status");

-- CreateIndex
CREATE UNIQUE INDEX "TestResult_runId_ruleId_row_key" ON "TestResult"("runId", "ruleId", "row");

-- AddForeignKey
ALTER TABLE "Attribute" ADD CONSTRAINT "Attribute_reportId_fkey" FOREIGN KEY ("reportId") REFERENCES "Report"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "PdeMapping" ADD CONSTRAINT "PdeMapping_attributeId_fkey" FOREIGN KEY ("attributeId") REFERENCES "Attribute"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "PdeMapping" ADD CONSTRAINT "PdeMapping_dataElementId_fkey" FOREIGN KEY ("dataElementId") REFERENCES "DataElement"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "ScopingRecommendation" ADD CONSTRAINT "ScopingRecommendation_attributeId_fkey" FOREIGN KEY ("attributeId") REFERENCES "Attribute"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "DatasetRecord" ADD CONSTRAINT "DatasetRecord_datasetId_fkey" FOREIGN KEY ("datasetId") REFERENCES "Dataset"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Sample" ADD CONSTRAINT "Sample_reportId_fkey" FOREIGN KEY ("reportId") REFERENCES "Report"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Sample" ADD CONSTRAINT "Sample_datasetId_fkey" FOREIGN KEY ("datasetId") REFERENCES "Dataset"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "ProfilingRule" ADD CONSTRAINT "ProfilingRule_attributeId_fkey" FOREIGN KEY ("attributeId") REFERENCES "Attribute"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "DatasetProfile" ADD CONSTRAINT "DatasetProfile_datasetId_fkey" FOREIGN KEY ("datasetId") REFERENCES "Dataset"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "TestRun" ADD CONSTRAINT "TestRun_reportId_fkey" FOREIGN KEY ("reportId") REFERENCES "Report"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "TestRun" ADD CONSTRAINT "TestRun_datasetId_fkey" FOREIGN KEY ("datasetId") REFERENCES "Dataset"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "TestResult" ADD CONSTRAINT "TestResult_runId_fkey" FOREIGN KEY ("runId") REFERENCES "TestRun"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "TestResult" ADD CONSTRAINT "TestResult_ruleId_fkey" FOREIGN KEY ("ruleId") REFERENCES "ProfilingRule"("id") ON DELETE CASCADE ON UPDATE CASCADE;
