import type { ComponentChildren } from 'preact';
import { useEffect } from 'preact/hooks';
import { api } from '../../api/client.ts';
import { useApiState } from '../../hooks/useApiState.ts';
import { useRoute } from '../../hooks/useRoute.ts';
import { useViewer, useViewerQuery, ViewerContext } from '../../hooks/useViewer.ts';
import { EnqueueForm } from '../EnqueueForm/EnqueueForm.tsx';
import { JobDetail } from '../JobDetail/JobDetail.tsx';
import { JobsTable } from '../JobsTable/JobsTable.tsx';
import { Link } from '../Link/Link.tsx';
import { Overview } from '../Overview/Overview.tsx';
import { RunDetail } from '../RunDetail/RunDetail.tsx';
import { RunsPage } from '../RunsPage/RunsPage.tsx';
import { TokenPrompt } from '../TokenPrompt/TokenPrompt.tsx';
import styles from './App.module.css';

/** The shell: navigation, who we are, whether updates are live, and the page for the URL. */
export function App() {
  const state = useApiState();
  // Keyed by session: a new token mounts everything afresh, with new queries and subscriptions.
  return state.needsToken ? (
    <Shell>
      <TokenPrompt problem={state.tokenProblem} />
    </Shell>
  ) : <Signed key={state.session} />;
}

function Signed() {
  const viewer = useViewerQuery();
  useEffect(() => api.connect(), []);
  return (
    <ViewerContext.Provider value={viewer}>
      <Shell>
        <Page />
      </Shell>
    </ViewerContext.Provider>
  );
}

function Page() {
  const { path } = useRoute();
  if (path === '/') return <Overview />;
  if (path === '/jobs') return <JobsTable />;
  if (path === '/enqueue') return <EnqueueForm />;
  if (path === '/runs') return <RunsPage />;
  const run = /^\/runs\/([^/]+)$/.exec(path);
  if (run) return <RunDetail id={decodeURIComponent(run[1]!)} />;
  const job = /^\/jobs\/([^/]+)$/.exec(path);
  if (job) return <JobDetail id={decodeURIComponent(job[1]!)} />;
  return (
    <section class="panel">
      <h2>Not found</h2>
      <p>
        Nothing here. <Link to="/">Overview</Link>
      </p>
    </section>
  );
}

function Shell({ children }: { children: ComponentChildren }) {
  const { path } = useRoute();
  const state = useApiState();
  const { canOperate } = useViewer();
  const section = path === '/' ? 'overview' : path.startsWith('/jobs') ? 'jobs' : path.startsWith('/runs') ? 'runs' : path === '/enqueue' ? 'enqueue' : '';
  const current = (name: string) => (section === name ? 'page' : undefined);
  return (
    <>
      <header class={styles.header}>
        <Link to="/" class={styles.brand}>
          jobgraph
        </Link>
        <nav class={styles.nav} aria-label="Dashboard">
          <Link to="/" aria-current={current('overview')}>
            Overview
          </Link>
          <Link to="/jobs" aria-current={current('jobs')}>
            Jobs
          </Link>
          <Link to="/runs" aria-current={current('runs')}>
            Runs
          </Link>
          {canOperate && (
            <Link to="/enqueue" aria-current={current('enqueue')}>
              Enqueue
            </Link>
          )}
        </nav>
        <div class={styles.status}>
          <span class={state.live ? styles.live : styles.offline} title="Subscriptions over WebSocket">
            {state.live ? '● live' : '○ connecting'}
          </span>
          <ViewerName />
          {state.hasToken && (
            <button type="button" class="link" onClick={() => api.setToken(null)}>
              Forget token
            </button>
          )}
        </div>
      </header>
      <main class={styles.main}>{children}</main>
    </>
  );
}

/** Who the API takes us for (nobody on the token prompt, outside ViewerContext). */
function ViewerName() {
  const { me } = useViewer();
  return me ? (
    <span>
      {me.name} · {me.role}
    </span>
  ) : null;
}
