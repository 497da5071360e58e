import { setTimeout as sleep } from 'node:timers/promises';
import type { ApiClient } from './api.ts';
import { isTerminal } from './display.ts';
import { JOB_PROGRESS, type JobProgressData, type JobView } from './operations.ts';
import { ApiError } from './errors.ts';


/** Connections lost in a row before giving up; waits 0.5, 1, 2, 4, 5, 5 s between them. */
const RECONNECTS = 6;

export interface FollowOptions {
  /** A connection was lost after the job had been seen; another follows after a pause. */
  onReconnect?: (reason: string, attempt: number) => void;
}

/**
 * Follows a job over `jobProgress` (the job now, then after every change, completing after a
 * terminal state) and resolves with its terminal state. A connection lost midway is made again:
 * the subscription starts with the job as it is then, so nothing is missed that matters for the
 * outcome. A first connection that fails is not retried: the API is down or refused, say so now.
 */
export async function followJob(api: ApiClient, id: string, onJob: (job: JobView) => void, opts: FollowOptions = {}): Promise<JobView> {
  let seen = false;
  let failures = 0;
  for (;;) {
    let lost: ApiError;
    try {
      for await (const data of api.subscribe<JobProgressData>(JOB_PROGRESS, { id })) {
        seen = true;
        failures = 0;
        onJob(data.jobProgress);
        if (isTerminal(data.jobProgress.status)) return data.jobProgress;
      }
      lost = new ApiError('unreachable', `the API at ${api.url} ended the subscription before job ${id} ended`);
    } catch (error) {
      if (!(error instanceof ApiError) || error.kind !== 'unreachable') throw error;
      lost = error;
    }
    if (!seen) throw lost;
    if (++failures > RECONNECTS) {
      throw new ApiError('unreachable', `${lost.message}; the job goes on: \`jobgraph watch ${id}\` follows it again`, lost.code);
    }
    opts.onReconnect?.(lost.message, failures);
    await sleep(Math.min(500 * 2 ** (failures - 1), 5_000));
  }
}
