import { formatClock } from '../../format.ts';
import type { Bucket } from '../../hooks/useThroughput.ts';
import styles from './ThroughputChart.module.css';

const WIDTH = 1000;
const HEIGHT = 170;
const PAD = { top: 10, right: 8, bottom: 20, left: 32 };

/** Completed (green) and failed (red) jobs per minute, stacked, as an inline SVG. */
export function ThroughputChart({ buckets }: { buckets: Bucket[] }) {
  const max = Math.max(1, ...buckets.map((b) => b.completed + b.failed));
  const plotW = WIDTH - PAD.left - PAD.right;
  const plotH = HEIGHT - PAD.top - PAD.bottom;
  const slot = plotW / Math.max(1, buckets.length);
  const barW = Math.max(1, slot - 1.5);
  const y = (count: number) => (count / max) * plotH;
  const completed = buckets.reduce((sum, b) => sum + b.completed, 0);
  const failed = buckets.reduce((sum, b) => sum + b.failed, 0);
  const first = buckets[0];
  const last = buckets.at(-1);

  return (
    <figure>
      <svg
        class={styles.chart}
        viewBox={`0 0 ${WIDTH} ${HEIGHT}`}
        role="img"
        aria-label={`Throughput over the last hour: ${completed} completed, ${failed} failed`}
      >
        <line class={styles.grid} x1={PAD.left} x2={WIDTH - PAD.right} y1={PAD.top + plotH} y2={PAD.top + plotH} />
        <line class={styles.grid} x1={PAD.left} x2={WIDTH - PAD.right} y1={PAD.top} y2={PAD.top} stroke-dasharray="3 3" />
        <text class={styles.axis} x={PAD.left - 4} y={PAD.top + 4} text-anchor="end">
          {max}
        </text>
        <text class={styles.axis} x={PAD.left - 4} y={PAD.top + plotH} text-anchor="end">
          0
        </text>
        {buckets.map((bucket, i) => {
          const x = PAD.left + i * slot;
          const hc = y(bucket.completed);
          const hf = y(bucket.failed);
          return (
            <g key={bucket.start}>
              <title>{`${formatClock(bucket.start)}: ${bucket.completed} completed, ${bucket.failed} failed`}</title>
              {hc > 0 && <rect class={styles.completed} x={x} y={PAD.top + plotH - hc} width={barW} height={hc} />}
              {hf > 0 && <rect class={styles.failed} x={x} y={PAD.top + plotH - hc - hf} width={barW} height={hf} />}
            </g>
          );
        })}
        {first && (
          <text class={styles.axis} x={PAD.left} y={HEIGHT - 4}>
            {formatClock(first.start)}
          </text>
        )}
        {last && (
          <text class={styles.axis} x={WIDTH - PAD.right} y={HEIGHT - 4} text-anchor="end">
            now
          </text>
        )}
      </svg>
      <figcaption class={styles.legend}>
        <span>
          <span class={`${styles.swatch} ${styles.swatchOk}`} aria-hidden="true" />
          completed {completed}
        </span>
        <span>
          <span class={`${styles.swatch} ${styles.swatchBad}`} aria-hidden="true" />
          failed {failed}
        </span>
        <span>per minute, last 60 minutes</span>
      </figcaption>
    </figure>
  );
}
