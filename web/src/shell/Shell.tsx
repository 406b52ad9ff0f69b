import { lazy, memo, Suspense, useEffect } from 'react';
import type { ResourceStatus } from '../../../shared/resources.ts';
import { AuthNotice } from '../components/AuthNotice.tsx';
import { ConnectionIndicator } from '../components/ConnectionIndicator.tsx';
import { NodeSummary } from '../components/NodeSummary.tsx';
import { SourceAlerts } from '../components/SourceAlerts.tsx';
import { EventsView } from '../feed/EventsView.tsx';
import { Toasts } from '../feed/Toasts.tsx';
import { Link, revealTarget, useLocation } from '../lib/router.ts';
import { useLiveSnapshot, useLiveSource } from '../live/hooks.ts';
import { ContainersView, GpusView, NodeFilterBar } from '../nodes/NodeViews.tsx';
import { OverviewView } from '../overview/OverviewView.tsx';
import { Nav } from './Nav.tsx';
import { StrategyBadge } from './StrategyBadge.tsx';

// The views with forms and charts load when first opened (or when the page is idle), keeping the first load small.
const loadScheduler = () => import('../scheduler/SchedulerView.tsx');
const loadStrategy = () => import('../strategy/StrategyView.tsx');
const loadHistory = () => import('../history/HistoryView.tsx');
const loadTasks = () => import('../tasks/TasksView.tsx');
const loadWorkers = () => import('../workers/WorkersView.tsx');
const loadWorkflows = () => import('../workflows/WorkflowsView.tsx');
const SchedulerView = lazy(() => loadScheduler().then((m) => ({ default: m.SchedulerView })));
const StrategyView = lazy(() => loadStrategy().then((m) => ({ default: m.StrategyView })));
const HistoryView = lazy(() => loadHistory().then((m) => ({ default: m.HistoryView })));
const TasksView = lazy(() => loadTasks().then((m) => ({ default: m.TasksView })));
const WorkersView = lazy(() => loadWorkers().then((m) => ({ default: m.WorkersView })));
const WorkflowsView = lazy(() => loadWorkflows().then((m) => ({ default: m.WorkflowsView })));
const PREFETCH_AFTER_MS = 3000;

/** sources whose errors their own view shows */
const OWN_VIEW_SOURCES = ['gpu', 'docker'];

/** Header (node, strategy, connection), navigation, the current view, toasts. */
export function Shell() {
  const source = useLiveSource();
  const snap = useLiveSnapshot();
  const loc = useLocation();
  const status = snap.latest.resource_status?.data ?? null;
  const unauthenticated = snap.state.kind === 'unauthenticated';
  const stale = snap.state.kind !== 'live';
  useReveal(loc.path, loc.hash);
  usePrefetch();
  return (
    <div className="app">
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <h1 className="brand">
          <Link to="/">Arbiter</Link>
        </h1>
        {unauthenticated ? <div className="node" /> : <NodeSummary status={status} />}
        {unauthenticated ? null : <StrategyBadge />}
        <ConnectionIndicator state={snap.state} lastEventId={snap.lastEventId} onRetry={source.retryNow} />
      </header>
      {unauthenticated ? null : <Nav path={loc.path} search={loc.search} />}
      {unauthenticated ? (
        <main className="main" id="main" tabIndex={-1}>
          <AuthNotice onRetry={source.retryNow} />
        </main>
      ) : (
        <main id="main" tabIndex={-1} className={stale ? 'main stale' : 'main'} aria-busy={status === null}>
          {/* the GPU and container views show their own source's error */}
          <NodeFilterBar path={loc.path} />
          <SourceAlerts sources={status?.sources} except={OWN_VIEW_SOURCES} />
          <Suspense fallback={<ViewLoading />}>
            <View path={loc.path} status={status} />
          </Suspense>
        </main>
      )}
      {unauthenticated ? null : <Toasts />}
    </div>
  );
}

function View({ path, status }: { path: string; status: ResourceStatus | null }) {
  switch (path) {
    case '/':
      return <OverviewView status={status} />;
    case '/gpus':
      return <GpusView status={status} />;
    case '/containers':
      return <ContainersView status={status} />;
    case '/scheduler':
      return <SchedulerView gpuIndices={gpuKey(status)} />;
    case '/strategy':
      return <StrategyView />;
    case '/tasks':
      return <TasksView />;
    case '/workers':
      return <WorkersView />;
    case '/workflows':
      return <WorkflowsView />;
    case '/events':
      return <EventsView />;
    case '/history':
      return <HistoryView />;
    default:
      return <NotFound path={path} />;
  }
}

/** The GPU indices as a string, so the views that only need them do not re-render on every sample. */
function gpuKey(status: ResourceStatus | null): string {
  return status ? status.gpus.map((g) => g.index).join(',') : '';
}

function ViewLoading() {
  return (
    <div className="view grid">
      <section className="panel panel-wide" data-testid="view-loading">
        <p className="waiting">loading this view…</p>
      </section>
    </div>
  );
}

/** Fetch the other views' code once the page has settled, so opening them later does not wait. */
function usePrefetch(): void {
  useEffect(() => {
    const t = setTimeout(() => {
      for (const load of [loadScheduler, loadStrategy, loadTasks, loadWorkers, loadWorkflows, loadHistory]) load().catch(() => undefined);
    }, PREFETCH_AFTER_MS);
    return () => clearTimeout(t);
  }, []);
}

const NotFound = memo(function NotFound({ path }: { path: string }) {
  return (
    <section className="panel" data-testid="not-found">
      <h2>No such view</h2>
      <p>
        Nothing at <code>{path}</code>. <Link to="/">Back to the overview</Link>.
      </p>
    </section>
  );
});

/** After a navigation to `#id`, bring that element into view once its view has rendered it (data may still be arriving). */
function useReveal(path: string, hash: string): void {
  useEffect(() => {
    if (!hash) {
      if (typeof scrollTo === 'function' && !/jsdom/i.test(navigator.userAgent)) scrollTo({ top: 0 });
      return;
    }
    let tries = 0;
    const t = setInterval(() => {
      if (revealTarget(hash) || ++tries > 50) clearInterval(t);
    }, 100);
    if (revealTarget(hash)) clearInterval(t);
    return () => clearInterval(t);
  }, [path, hash]);
}
