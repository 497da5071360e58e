-- AlterTable
ALTER TABLE "Job" ADD COLUMN     "concurrencyKey" TEXT,
ADD COLUMN     "concurrencyLimit" INTEGER,
ADD COLUMN     "debounceKey" TEXT,
ADD COLUMN     "fairGroup" TEXT,
ADD COLUMN     "fairRank" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN     "singletonKey" TEXT,
ADD COLUMN     "waitingOn" TEXT;

-- CreateIndex
CREATE INDEX "Job_key_live_idx" ON "Job"("type", "concurrencyKey") WHERE ("concurrencyKey" IS NOT NULL AND status = ANY (ARRAY['QUEUED'::"JobStatus", 'RETRYING'::"JobStatus", 'RUNNING'::"JobStatus", 'CANCELLING'::"JobStatus"]));

-- CreateIndex
CREATE INDEX "Job_fair_waiting_idx" ON "Job"("fairGroup", "fairRank") WHERE ("fairGroup" IS NOT NULL AND status = ANY (ARRAY['QUEUED'::"JobStatus", 'RETRYING'::"JobStatus"]));

-- CreateIndex
CREATE UNIQUE INDEX "Job_singleton_live_key" ON "Job"("type", "singletonKey") WHERE ("singletonKey" IS NOT NULL AND status = ANY (ARRAY['QUEUED'::"JobStatus", 'RETRYING'::"JobStatus", 'RUNNING'::"JobStatus", 'CANCELLING'::"JobStatus"]));

-- CreateIndex
CREATE UNIQUE INDEX "Job_debounce_waiting_key" ON "Job"("type", "debounceKey") WHERE ("debounceKey" IS NOT NULL AND status = 'QUEUED'::"JobStatus" AND attempt = 0);

-- Written by hand: whether a claim may start a job of concurrency key (p_type, p_key), which lets
-- p_limit run at once. A transaction-scoped advisory lock on the key first, so claims of one key
-- take turns until they commit, and the count after it runs in a snapshot taken after the lock (a
-- statement of a PL/pgSQL function), so it sees every claim committed before. Held jobs count:
-- RUNNING and CANCELLING (a cancelled job still runs until its handler stops).
CREATE FUNCTION jobgraph_key_admits(p_type text, p_key text, p_limit int) RETURNS boolean LANGUAGE plpgsql AS E'
BEGIN
  PERFORM pg_advisory_xact_lock(hashtext(''jobgraph:key:'' || p_type), hashtext(p_key))\073
  RETURN (SELECT count(*) FROM "Job" j
           WHERE j."type" = p_type AND j."concurrencyKey" = p_key
             AND j."status" = ANY (ARRAY[''RUNNING''::"JobStatus", ''CANCELLING''::"JobStatus"])) < p_limit\073
END ';
