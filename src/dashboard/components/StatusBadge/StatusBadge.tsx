import type { JobStatus } from '../../api/operations.ts';
import styles from './StatusBadge.module.css';

export function StatusBadge({ status }: { status: JobStatus }) {
  return <span class={`${styles.badge} ${styles[status.toLowerCase()] ?? ''}`}>{status}</span>;
}
