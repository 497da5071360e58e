import { json } from '../../format.ts';
import styles from './JsonView.module.css';

export function JsonView({ value, label }: { value: unknown; label: string }) {
  return (
    <pre class={styles.json} aria-label={label}>
      {json(value)}
    </pre>
  );
}
