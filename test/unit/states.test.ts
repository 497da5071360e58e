import { describe, expect, it } from 'vitest';
import {
  ACTIVE_STATUSES,
  canTransition,
  HELD_STATUSES,
  isTerminal,
  sourcesOf,
  TERMINAL_STATUSES,
  TRANSITIONS,
  WAITING_STATUSES,
  type JobStatus,
} from '../../src/jobs/states.ts';
import { guard } from '../../src/jobs/ledger/sql.ts';

const ALL: JobStatus[] = ['QUEUED', 'RUNNING', 'RETRYING', 'CANCELLING', 'COMPLETED', 'FAILED', 'CANCELLED'];

describe('the state table', () => {
  it('gives each write its sources, and the SQL guard is made from them', () => {
    expect(sourcesOf('claim')).toEqual(['QUEUED', 'RETRYING']);
    expect(sourcesOf('cancel')).toEqual(['QUEUED', 'RETRYING', 'RUNNING']);
    expect(guard('claim')).toBe(`"status" IN ('QUEUED', 'RETRYING')`);
    expect(guard('complete', '"Job"."status"')).toBe(`"Job"."status" IN ('RUNNING', 'CANCELLING')`);
  });

  it('lets every non-terminal status move on, and only retryJob leave FAILED or CANCELLED', () => {
    for (const status of ACTIVE_STATUSES) expect(ALL.some((to) => canTransition(status, to)), status).toBe(true);
    for (const status of TERMINAL_STATUSES) {
      const exits = ALL.filter((to) => canTransition(status, to));
      expect(exits, status).toEqual(status === 'COMPLETED' ? [] : ['QUEUED']);
    }
    const leaving = Object.entries(TRANSITIONS).filter(([, moves]) => 'FAILED' in moves || 'CANCELLED' in moves).map(([name]) => name);
    expect(leaving).toEqual(['retry']);
  });

  it('partitions the statuses: waiting, held, terminal', () => {
    expect([...WAITING_STATUSES, ...HELD_STATUSES, ...TERMINAL_STATUSES].sort()).toEqual([...ALL].sort());
    expect(ALL.filter(isTerminal)).toEqual([...TERMINAL_STATUSES]);
    expect(canTransition('RUNNING', 'RETRYING')).toBe(true);
    expect(canTransition('RETRYING', 'RUNNING')).toBe(true);
    expect(canTransition('QUEUED', 'COMPLETED')).toBe(false);
  });
});
