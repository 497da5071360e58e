import type { JobStatus } from '../../api/operations.ts';
import styles from './ProgressBar.module.css';

/** An accessible progress bar: role="progressbar" with aria-valuenow 0–100. */
export function ProgressBar({ value, status, label }: { value: number; status: JobStatus; label: string }) {
  const now = Math.max(0, Math.min(100, Math.round(value)));
  const tone = status === 'COMPLETED' ? styles.done : status === 'FAILED' || status === 'CANCELLED' ? styles.failed : '';
  return (
    <div class={`${styles.wrap} ${tone}`}>
      <div class={styles.bar} role="progressbar" aria-label={label} aria-valuemin={0} aria-valuemax={100} aria-valuenow={now} aria-valuetext={`${now}%`}>
        <div class={styles.fill} style={{ width: `${now}%` }} />
      </div>
      <span class={styles.value} aria-hidden="true">
        {now}%
      </span>
    </div>
  );
}
