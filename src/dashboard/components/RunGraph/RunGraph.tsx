import type { RunDetail } from '../../api/operations.ts';
import styles from './RunGraph.module.css';

type Step = RunDetail['steps'][number];

const W = 132;
const H = 58;
const GAP_X = 32;
const GAP_Y = 16;

/** Each step's column (its depth: one more than its deepest parent) and row (its place among that column's steps). */
export function layout(steps: readonly Step[]): Map<string, { column: number; row: number }> {
  const depth = new Map<string, number>();
  for (const step of steps) depth.set(step.name, step.parents.length ? 1 + Math.max(...step.parents.map((p) => depth.get(p) ?? 0)) : 0);
  const rows = new Map<number, number>();
  const placed = new Map<string, { column: number; row: number }>();
  for (const step of steps) {
    const column = depth.get(step.name)!;
    const row = rows.get(column) ?? 0;
    rows.set(column, row + 1);
    placed.set(step.name, { column, row });
  }
  return placed;
}

/**
 * The run's DAG, drawn: a box per step (a gate's with a dashed border) coloured by its status,
 * with its progress; an arrow from each parent. Described in words for screen readers; the step
 * table below it has the same facts.
 */
export function RunGraph({ run }: { run: RunDetail }) {
  const at = layout(run.steps);
  const columns = Math.max(...[...at.values()].map((p) => p.column)) + 1;
  const rows = Math.max(...[...at.values()].map((p) => p.row)) + 1;
  const height = rows * (H + GAP_Y) + GAP_Y;
  // Each column centred vertically.
  const perColumn = new Map<number, number>();
  for (const p of at.values()) perColumn.set(p.column, (perColumn.get(p.column) ?? 0) + 1);
  const x = (name: string) => GAP_Y + at.get(name)!.column * (W + GAP_X);
  const y = (name: string) => {
    const { column, row } = at.get(name)!;
    const offset = (height - perColumn.get(column)! * (H + GAP_Y) - GAP_Y) / 2;
    return GAP_Y + offset + row * (H + GAP_Y);
  };
  const description = run.steps.map((step) => `${step.name} ${step.status.toLowerCase()}${step.parents.length ? ` after ${step.parents.join(' and ')}` : ''}`).join('; ');
  return (
    <div class={styles.scroll}>
      <svg class={styles.graph} width={columns * (W + GAP_X) + GAP_Y} height={height} role="img" aria-label={`Steps: ${description}`}>
        <defs>
          <marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
            <path d="M 0 0 L 10 5 L 0 10 z" class={styles.arrowHead} />
          </marker>
        </defs>
        {run.steps.flatMap((step) =>
          step.parents.map((parent) => {
            const [x1, y1, x2, y2] = [x(parent) + W, y(parent) + H / 2, x(step.name), y(step.name) + H / 2];
            const mid = (x1 + x2) / 2;
            return <path key={`${parent}-${step.name}`} class={styles.edge} d={`M ${x1} ${y1} C ${mid} ${y1}, ${mid} ${y2}, ${x2} ${y2}`} marker-end="url(#arrow)" />;
          }),
        )}
        {run.steps.map((step) => (
          <g key={step.name} transform={`translate(${x(step.name)} ${y(step.name)})`} class={`${styles.node} ${styles[step.status.toLowerCase()] ?? ''}`}>
            <rect width={W} height={H} rx={8} class={step.kind === 'GATE' ? styles.gate : ''} />
            <text x={10} y={20} class={styles.name}>
              {step.name}
            </text>
            <text x={10} y={38} class={styles.status}>
              {step.kind === 'GATE' && step.status === 'WAITING' ? 'awaiting sign-off' : step.status.toLowerCase()}
              {step.generation > 0 ? ` · run ${step.generation + 1}` : ''}
            </text>
            <rect x={10} y={46} width={W - 20} height={4} rx={2} class={styles.track} />
            <rect x={10} y={46} width={((W - 20) * Math.max(0, Math.min(100, step.progress))) / 100} height={4} rx={2} class={styles.fill} />
          </g>
        ))}
      </svg>
    </div>
  );
}
