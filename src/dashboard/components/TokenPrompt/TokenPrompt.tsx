import { useState } from 'preact/hooks';
import { api } from '../../api/client.ts';
import styles from './TokenPrompt.module.css';

/** Asked once when the API wants a token; it is kept for this tab (sessionStorage). */
export function TokenPrompt({ problem }: { problem: string | null }) {
  const [token, setToken] = useState('');
  return (
    <section class={`panel ${styles.prompt}`} aria-labelledby="token-title">
      <h2 id="token-title">Sign in</h2>
      <p class={styles.hint}>This API needs a token (one of API_TOKENS). It is kept for this browser tab only.</p>
      {problem && (
        <p role="alert" class={styles.problem}>
          {problem}
        </p>
      )}
      <form
        class={styles.form}
        onSubmit={(event) => {
          event.preventDefault();
          if (token.trim()) api.setToken(token);
        }}
      >
        <label>
          API token
          <input type="password" autocomplete="current-password" value={token} onInput={(event) => setToken(event.currentTarget.value)} required />
        </label>
        <div>
          <button type="submit" class="primary">
            Use this token
          </button>
        </div>
      </form>
    </section>
  );
}
