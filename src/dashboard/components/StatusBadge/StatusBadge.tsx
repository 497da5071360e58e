import type { JobStatus, RunStatus } from '../../api/operations.ts';
import styles from './StatusBadge.module.css';

/** A job's, a run's or a step's status (PENDING, ACTIVE, WAITING, REJECTED besides the job statuses). */
export function StatusBadge({ status }: { status: JobStatus | RunStatus | string }) {
  return <span class={`${styles.badge} ${styles[status.toLowerCase()] ?? ''}`}>{status}</span>;
}
