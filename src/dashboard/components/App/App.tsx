import type { ComponentChildren, JSX } from 'preact';
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
import { SchedulesPage } from '../SchedulesPage/SchedulesPage.tsx';
import { TokenPrompt } from '../TokenPrompt/TokenPrompt.tsx';
import styles from './App.module.css';

/**
 * The app's pages: each path's pattern, its name (the page's h1, read by screen readers, and the
 * window's title) and what it shows; the first match wins. A new page is one more entry here.
 */
const PAGES: { path: RegExp; title: string; render: (param: string) => JSX.Element }[] = [
  { path: /^\/$/, title: 'Overview', render: () => <Overview /> },
  { path: /^\/jobs$/, title: 'Jobs', render: () => <JobsTable /> },
  { path: /^\/jobs\/([^/]+)$/, title: 'Job', render: (id) => <JobDetail id={id} /> },
  { path: /^\/enqueue$/, title: 'Enqueue a job', render: () => <EnqueueForm /> },
  { path: /^\/runs$/, title: 'Runs', render: () => <RunsPage /> },
  { path: /^\/runs\/([^/]+)$/, title: 'Run', render: (id) => <RunDetail id={id} /> },
  { path: /^\/schedules$/, title: 'Schedules', render: () => <SchedulesPage /> },
];

const NOT_FOUND = {
  title: 'Not found',
  render: () => (
    <section class="panel">
      <h2>Not found</h2>
      <p>
        Nothing here. <Link to="/">Overview</Link>
      </p>
    </section>
  ),
};

/** The shell: navigation, who we are, whether updates are live, and the page for the URL. */
export function App() {
  const state = useApiState();
  // Keyed by session: a new token mounts everything afresh, with new queries and subscriptions.
  return state.needsToken ? (
    <Shell title="Sign in">
      <TokenPrompt problem={state.tokenProblem} />
    </Shell>
  ) : <Signed key={state.session} />;
}

function Signed() {
  const viewer = useViewerQuery();
  const { path } = useRoute();
  useEffect(() => api.connect(), []);
  let page: { title: string; element: JSX.Element } = { title: NOT_FOUND.title, element: NOT_FOUND.render() };
  for (const { path: pattern, title, render } of PAGES) {
    const match = pattern.exec(path);
    if (!match) continue;
    page = { title, element: render(decodeURIComponent(match[1] ?? '')) };
    break;
  }
  return (
    <ViewerContext.Provider value={viewer}>
      <Shell title={page.title}>{page.element}</Shell>
    </ViewerContext.Provider>
  );
}

function Shell({ title, children }: { title: string; children: ComponentChildren }) {
  const { path } = useRoute();
  const state = useApiState();
  const { canOperate } = useViewer();
  useEffect(() => {
    document.title = `${title} · jobgraph`;
  }, [title]);
  const section = path === '/' ? 'overview' : path.startsWith('/jobs') ? 'jobs' : path.startsWith('/runs') ? 'runs' : path === '/schedules' ? 'schedules' : path === '/enqueue' ? 'enqueue' : '';
  const current = (name: string) => (section === name ? 'page' : undefined);
  return (
    <>
      <a
        href="#main"
        class={styles.skip}
        onClick={(event) => {
          event.preventDefault();
          document.getElementById('main')?.focus();
        }}
      >
        Skip to content
      </a>
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
          <Link to="/schedules" aria-current={current('schedules')}>
            Schedules
          </Link>
          {canOperate && (
            <Link to="/enqueue" aria-current={current('enqueue')}>
              Enqueue
            </Link>
          )}
        </nav>
        <div class={styles.status}>
          <span class={state.live ? styles.live : styles.offline} title="Subscriptions over WebSocket" role="status">
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
      <main id="main" class={styles.main} tabIndex={-1}>
        <h1 class="visually-hidden">{title}</h1>
        {children}
      </main>
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
