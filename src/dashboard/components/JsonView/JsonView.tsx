import { json } from '../../format.ts';
import styles from './JsonView.module.css';

/** A value as indented JSON in a box that scrolls; the box takes the focus, so the keyboard scrolls it too. */
export function JsonView({ value, label }: { value: unknown; label: string }) {
  return (
    <pre class={styles.json} role="group" aria-label={label} tabIndex={0}>
      {json(value)}
    </pre>
  );
}
