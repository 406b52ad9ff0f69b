import { memo, useCallback, useEffect, useId, useState } from 'react';
import { Link } from '../lib/router.ts';
import { WorkflowActions } from './Actions.tsx';
import { JobCounts, StatusBadge, When } from './badges.tsx';
import { Dag, jobNodeId } from './Dag.tsx';
import { useWorkflowsContext } from './hooks.ts';
import { JobPanel } from './JobPanel.tsx';
import type { OpenedView } from './store.ts';
import { ReadError } from '../components/ReadError.tsx';

/**
 * One workflow (`/workflows?id=…`): its state, user, times and jobs per state, Cancel and Retry; its DAG, live; a
 * job's panel on click. Read while it is shown; `opened` is the store's view of it (null until the store has it).
 */
export const WorkflowPanel = memo(function WorkflowPanel({ id, opened }: { id: string; opened: OpenedView | null }) {
  const { store } = useWorkflowsContext();
  useEffect(() => store.open(id), [store, id]);
  const panelId = useId();
  const [selected, setSelected] = useState<number | null>(null);
  const select = useCallback((i: number) => setSelected((cur) => (cur === i ? null : i)), []);
  const close = useCallback(() => {
    setSelected((cur) => {
      // back to the job's box
      if (cur !== null) queueMicrotask(() => document.getElementById(jobNodeId(cur))?.focus());
      return null;
    });
  }, []);
  const o = opened?.id === id ? opened : null;
  const w = o?.summary ?? null;
  const job = selected === null ? undefined : o?.jobs[selected];
  return (
    <>
      <p className="panel-wide workflow-back">
        <Link to="/workflows" data-testid="workflows-back">
          ← All workflows
        </Link>
      </p>
      {o?.error ? (
        <ReadError what="The workflow" error={o.error} onRetry={() => store.refresh()} testId="workflow-error" />
      ) : null}
      {o?.missing ? (
        <section className="panel panel-wide" data-testid="workflow-missing">
          <h2>No such workflow</h2>
          <p>
            The server has no workflow <code>{id}</code>.
          </p>
        </section>
      ) : (
        <>
          <section className="panel panel-wide workflow-head" aria-labelledby={`${panelId}-title`} data-testid="workflow" data-workflow-id={id} data-status={w?.status}>
            <header className="panel-head">
              <h2 id={`${panelId}-title`} className="workflow-title">
                <span className="visually-hidden">Workflow </span>
                <span className="workflow-name" data-testid="workflow-name">
                  {w?.name ?? id}
                </span>
              </h2>
              {w ? <StatusBadge status={w.status} testId="workflow-status" /> : null}
              {w && o ? <WorkflowActions summary={w} opened={o} /> : null}
            </header>
            {w ? (
              <>
                <p className="muted workflow-facts" data-testid="workflow-facts">
                  <code>{w.id}</code> · {w.username} · {w.job_count} job{w.job_count === 1 ? '' : 's'} · created <When iso={w.created_at} />
                  {w.started_at ? (
                    <>
                      {' '}
                      · started <When iso={w.started_at} />
                    </>
                  ) : null}
                  {w.ended_at ? (
                    <>
                      {' '}
                      · ended <When iso={w.ended_at} />
                    </>
                  ) : null}
                </p>
                <JobCounts counts={w.counts} />
              </>
            ) : null}
          </section>
          {o?.ready ? (
            <div className={job ? 'panel-wide workflow-body with-job' : 'panel-wide workflow-body'}>
              <section className="panel dag-panel" aria-label="Jobs" data-testid="dag-panel">
                <Dag jobs={o.jobs} shape={o.shape} selected={job ? selected : null} onSelect={select} panelId={panelId} />
              </section>
              {job ? <JobPanel job={job} jobs={o.jobs} shape={o.shape} id={panelId} onSelect={select} onClose={close} /> : null}
            </div>
          ) : o?.error ? null : (
            <section className="panel panel-wide" data-testid="workflow-loading">
              <p className="waiting">loading the workflow…</p>
            </section>
          )}
        </>
      )}
    </>
  );
});
