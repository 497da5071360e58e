-- CreateTable
CREATE TABLE "FlowLimit" (
    "name" TEXT NOT NULL,
    "pausedUntil" TIMESTAMPTZ(3),
    "pauseReason" TEXT,
    "held" INTEGER NOT NULL DEFAULT 0,

    CONSTRAINT "FlowLimit_pkey" PRIMARY KEY ("name")
);

-- CreateTable
CREATE TABLE "FlowLimitUse" (
    "id" UUID NOT NULL,
    "limit" TEXT NOT NULL,
    "at" TIMESTAMPTZ(3) NOT NULL,
    "requests" INTEGER NOT NULL,
    "tokens" INTEGER NOT NULL,

    CONSTRAINT "FlowLimitUse_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "FlowLimitLease" (
    "limit" TEXT NOT NULL,
    "holder" UUID NOT NULL,
    "holding" BOOLEAN NOT NULL,
    "jobId" UUID,
    "since" TIMESTAMPTZ(3) NOT NULL,
    "expiresAt" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "FlowLimitLease_pkey" PRIMARY KEY ("limit","holder")
);

-- CreateIndex
CREATE INDEX "FlowLimitUse_limit_at_idx" ON "FlowLimitUse"("limit", "at");

-- Written by hand: one take from a shared limit (src/jobs/ledger/limits.ts), atomic across every
-- process of the deployment. The limit's row is locked first, and each later statement of a PL/pgSQL
-- function reads a snapshot taken after that lock, so two takes never count the same budget.
-- Time is the database's (clock_timestamp), so the processes' clocks do not matter. The slots held
-- are counted in the limit's row ("held"), not by counting leases: a take costs the same however
-- many leases came and went. Leases that ran out (a holder killed) are given back when a take finds
-- every slot held. Granted: the use is recorded under p_holder (where a window counts it) and, with
-- a concurrency bound, a lease on a slot. Refused: how long to wait and why (paused, concurrency,
-- requests, tokens), and p_holder is recorded as waiting.
-- Takes, releases and settlements commit without waiting for their WAL flush (synchronous_commit
-- off, for their own transaction only): a limit's bookkeeping is not worth a disk flush per LLM call.
-- A PostgreSQL crash may forget what they did in its last moments (wal_writer_delay, 200 ms by
-- default, three times at most): a few takes uncounted, a slot's lease gone (its holder's release
-- then finds nothing), a release undone (the lease runs out). README states it.
-- E-strings with \073 for each semicolon, as job_tally (the schema engine splits at semicolons).
CREATE FUNCTION jobgraph_limit_take(
  p_limit text, p_holder uuid, p_job uuid, p_requests int, p_tokens int,
  p_max_requests int, p_requests_ms int, p_max_tokens int, p_tokens_ms int,
  p_concurrency int, p_lease_ms int
) RETURNS TABLE (granted boolean, wait_ms int, why text, paused_until timestamptz) LANGUAGE plpgsql AS E'
DECLARE
  v_now timestamptz\073
  v_paused timestamptz\073
  v_held int\073
  v_gone int\073
  v_used bigint\073
  v_oldest timestamptz\073
  v_wait int := 0\073
  v_why text\073
BEGIN
  PERFORM set_config(''synchronous_commit'', ''off'', true)\073
  SELECT l."pausedUntil", l."held" INTO v_paused, v_held FROM "FlowLimit" l WHERE l."name" = p_limit FOR UPDATE\073
  IF NOT FOUND THEN
    INSERT INTO "FlowLimit" ("name") VALUES (p_limit) ON CONFLICT DO NOTHING\073
    SELECT l."pausedUntil", l."held" INTO v_paused, v_held FROM "FlowLimit" l WHERE l."name" = p_limit FOR UPDATE\073
  END IF\073
  v_now := clock_timestamp()\073
  IF p_max_requests > 0 OR p_max_tokens > 0 THEN
    DELETE FROM "FlowLimitUse" u WHERE u."limit" = p_limit
       AND u."at" <= v_now - make_interval(secs => greatest(p_requests_ms, p_tokens_ms) / 1000.0)\073
  END IF\073
  IF p_concurrency > 0 AND v_held >= p_concurrency THEN
    WITH gone AS (DELETE FROM "FlowLimitLease" l WHERE l."limit" = p_limit AND l."holding" AND l."expiresAt" <= v_now RETURNING 1)
    SELECT count(*) INTO v_gone FROM gone\073
    IF v_gone > 0 THEN
      v_held := greatest(v_held - v_gone, 0)\073
      UPDATE "FlowLimit" SET "held" = v_held WHERE "name" = p_limit\073
    END IF\073
  END IF\073
  IF v_paused IS NOT NULL AND v_paused > v_now THEN
    v_why := ''paused''\073
    v_wait := ceil(extract(epoch FROM v_paused - v_now) * 1000)\073
  ELSIF p_concurrency > 0 AND v_held >= p_concurrency THEN
    v_why := ''concurrency''\073
    SELECT least(250, ceil(extract(epoch FROM min(l."expiresAt") - v_now) * 1000)) INTO v_wait
      FROM "FlowLimitLease" l WHERE l."limit" = p_limit AND l."holding"\073
  ELSE
    IF p_max_requests > 0 THEN
      SELECT coalesce(sum(u."requests"), 0), min(u."at") INTO v_used, v_oldest FROM "FlowLimitUse" u
       WHERE u."limit" = p_limit AND u."requests" > 0 AND u."at" > v_now - make_interval(secs => p_requests_ms / 1000.0)\073
      IF v_used + p_requests > p_max_requests THEN
        v_why := ''requests''\073
        v_wait := ceil(extract(epoch FROM v_oldest + make_interval(secs => p_requests_ms / 1000.0) - v_now) * 1000)\073
      END IF\073
    END IF\073
    IF v_why IS NULL AND p_max_tokens > 0 THEN
      SELECT coalesce(sum(u."tokens"), 0), min(u."at") INTO v_used, v_oldest FROM "FlowLimitUse" u
       WHERE u."limit" = p_limit AND u."tokens" > 0 AND u."at" > v_now - make_interval(secs => p_tokens_ms / 1000.0)\073
      -- A request larger than the whole budget goes alone, once the window is empty.
      IF v_used > 0 AND v_used + p_tokens > p_max_tokens THEN
        v_why := ''tokens''\073
        v_wait := ceil(extract(epoch FROM v_oldest + make_interval(secs => p_tokens_ms / 1000.0) - v_now) * 1000)\073
      END IF\073
    END IF\073
  END IF\073
  IF v_why IS NOT NULL THEN
    -- Waiters that stopped renewing (their process ended) no longer count as waiting.
    DELETE FROM "FlowLimitLease" l WHERE l."limit" = p_limit AND NOT l."holding" AND l."expiresAt" <= v_now\073
    INSERT INTO "FlowLimitLease" ("limit", "holder", "holding", "jobId", "since", "expiresAt")
    VALUES (p_limit, p_holder, false, p_job, v_now, v_now + make_interval(secs => p_lease_ms / 1000.0))
    ON CONFLICT ("limit", "holder") DO UPDATE SET "expiresAt" = excluded."expiresAt"\073
    RETURN QUERY SELECT false, greatest(v_wait, 1), v_why, v_paused\073
    RETURN\073
  END IF\073
  -- A use is kept only where a window counts it.
  IF p_max_requests > 0 OR p_max_tokens > 0 THEN
    INSERT INTO "FlowLimitUse" ("id", "limit", "at", "requests", "tokens") VALUES (p_holder, p_limit, v_now, p_requests, p_tokens)\073
  END IF\073
  IF p_concurrency > 0 THEN
    INSERT INTO "FlowLimitLease" ("limit", "holder", "holding", "jobId", "since", "expiresAt")
    VALUES (p_limit, p_holder, true, p_job, v_now, v_now + make_interval(secs => p_lease_ms / 1000.0))
    ON CONFLICT ("limit", "holder") DO UPDATE SET "holding" = true, "since" = excluded."since", "expiresAt" = excluded."expiresAt"\073
    UPDATE "FlowLimit" SET "held" = v_held + 1 WHERE "name" = p_limit\073
  ELSE
    DELETE FROM "FlowLimitLease" l WHERE l."limit" = p_limit AND l."holder" = p_holder\073
  END IF\073
  RETURN QUERY SELECT true, 0, NULL::text, NULL::timestamptz\073
END ';

-- Written by hand: gives a take's lease back (a held slot, or a waiter that stopped waiting). The
-- count in the limit's row goes down only when this call removed a held lease, so a lease given
-- back twice, or already taken back as run out, is counted once.
CREATE FUNCTION jobgraph_limit_release(p_limit text, p_holder uuid) RETURNS void LANGUAGE plpgsql AS E'
DECLARE
  v_holding boolean\073
BEGIN
  PERFORM set_config(''synchronous_commit'', ''off'', true)\073
  DELETE FROM "FlowLimitLease" l WHERE l."limit" = p_limit AND l."holder" = p_holder RETURNING l."holding" INTO v_holding\073
  IF v_holding THEN
    UPDATE "FlowLimit" SET "held" = greatest("held" - 1, 0) WHERE "name" = p_limit\073
  END IF\073
END ';

-- Written by hand: a use is over. It counts from now (its request reached the provider at some
-- point between its take and now), with the provider's count of tokens when given (NULL: keep).
CREATE FUNCTION jobgraph_limit_settle(p_holder uuid, p_tokens int) RETURNS void LANGUAGE plpgsql AS E'
BEGIN
  PERFORM set_config(''synchronous_commit'', ''off'', true)\073
  UPDATE "FlowLimitUse" SET "at" = greatest("at", clock_timestamp()), "tokens" = coalesce(p_tokens, "tokens") WHERE "id" = p_holder\073
END ';
