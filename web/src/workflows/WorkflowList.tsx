import { memo, useId, useMemo } from 'react';
import type { WorkflowStatus, WorkflowSummary } from '../../../shared/workflows.ts';
import { WORKFLOW_STATUSES } from '../../../shared/names.ts';
import { Link, navigate } from '../lib/router.ts';
import { JobCounts, StatusBadge, When } from './badges.tsx';
import { useWorkflowsContext } from './hooks.ts';
import type { WorkflowsSnapshot } from './store.ts';
import { ReadError } from '../components/ReadError.tsx';

export interface ListFilter {
  status: WorkflowStatus | null;
  user: string | null;
}

/** Where one workflow is shown. */
export const workflowPath = (id: string) => `/workflows?id=${encodeURIComponent(id)}`;

/**
 * The newest workflows, newest first: name, user, state, jobs per state, when created; filtered by state (and user).
 * A click on one opens it.
 */
export function WorkflowList({ snap, filter, onFilter }: { snap: WorkflowsSnapshot; filter: ListFilter; onFilter(f: ListFilter): void }) {
  const { store } = useWorkflowsContext();
  const id = useId();
  const shown = useMemo(
    () => snap.workflows.filter((w) => (filter.status === null || w.status === filter.status) && (filter.user === null || w.username === filter.user)),
    [snap.workflows, filter],
  );
  return (
    <>
      {snap.error ? (
        <ReadError what="The workflows" error={snap.error} onRetry={() => store.refresh()} testId="workflows-error" />
      ) : null}
      <section className="panel panel-wide workflows-panel" aria-labelledby={id} data-testid="workflows">
        <header className="panel-head">
          <h2 id={id}>Workflows</h2>
          <div className="segmented" role="group" aria-label="Show workflows in state" data-testid="status-filter">
            <button type="button" aria-pressed={filter.status === null} onClick={() => onFilter({ ...filter, status: null })}>
              All <span className="num">{snap.workflows.length}</span>
            </button>
            {WORKFLOW_STATUSES.map((s) => (
              <button type="button" key={s} aria-pressed={filter.status === s} onClick={() => onFilter({ ...filter, status: s })} data-status={s}>
                {s.toLowerCase()} <span className="num">{snap.byStatus[s] ?? 0}</span>
              </button>
            ))}
          </div>
          {snap.users.length > 1 || filter.user !== null ? (
            <label className="user-filter">
              <span className="visually-hidden">User</span>
              <select value={filter.user ?? ''} onChange={(e) => onFilter({ ...filter, user: e.target.value || null })} data-testid="user-filter">
                <option value="">every user</option>
                {snap.users.map((u) => (
                  <option key={u} value={u}>
                    {u}
                  </option>
                ))}
              </select>
            </label>
          ) : null}
        </header>
        {shown.length === 0 ? (
          <p className={snap.ready ? 'muted' : 'waiting'} data-testid="workflows-empty">
            {!snap.ready ? (
              'loading workflows…'
            ) : snap.workflows.length === 0 ? (
              <>
                No workflows yet. A workflow is submitted with <code>POST /api/workflows {'{user_id, name, jobs: [{name, job_type, branch_id, parent_indices, run}]}'}</code>;
                its jobs run once their parents have succeeded.
              </>
            ) : (
              'No workflow matches the filter.'
            )}
          </p>
        ) : (
          <div className="table-scroll">
            <table className="data-table workflows-table">
              <caption className="visually-hidden">Workflows, newest first</caption>
              <thead>
                <tr>
                  <th scope="col">Workflow</th>
                  <th scope="col">User</th>
                  <th scope="col">State</th>
                  <th scope="col">Jobs</th>
                  <th scope="col" className="num">Created</th>
                </tr>
              </thead>
              <tbody>
                {shown.map((w) => (
                  <Row key={w.id} workflow={w} />
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
    </>
  );
}

const Row = memo(function Row({ workflow: w }: { workflow: WorkflowSummary }) {
  const to = workflowPath(w.id);
  return (
    <tr
      className="workflow-row"
      // the whole row opens it for a pointer; the link is what the keyboard reaches
      onClick={(e) => {
        if (!(e.target as Element).closest('a, button')) navigate(to);
      }}
      data-testid="workflow-row"
      data-workflow-id={w.id}
      data-status={w.status}
    >
      <th scope="row">
        <Link to={to} className="workflow-link" data-testid="workflow-link">
          {w.name ?? w.id}
        </Link>
        {w.name ? <span className="muted workflow-id"> {w.id}</span> : null}
      </th>
      <td>{w.username}</td>
      <td>
        <StatusBadge status={w.status} testId="workflow-status" />
      </td>
      <td>
        <div className="workflow-jobs">
          <span className="muted num" data-testid="workflow-job-count">
            {w.job_count} job{w.job_count === 1 ? '' : 's'}
          </span>
          <JobCounts counts={w.counts} />
        </div>
      </td>
      <td className="num">
        <When iso={w.created_at} />
      </td>
    </tr>
  );
});
