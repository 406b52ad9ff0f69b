import { useEffect, useState } from 'react';
import { useLocation } from '../lib/router.ts';
import { useWorkflows, useWorkflowsContext } from './hooks.ts';
import { WorkflowList, type ListFilter } from './WorkflowList.tsx';
import { WorkflowPanel } from './WorkflowPanel.tsx';
import './workflows.css';

/**
 * Workflows: the list (`/workflows`), or one workflow drawn as its DAG (`/workflows?id=…`). Live: pushed workflow
 * changes update both in place. The list's filter outlives a visit to one workflow.
 */
export function WorkflowsView() {
  const { store } = useWorkflowsContext();
  const snap = useWorkflows();
  const { search } = useLocation();
  useEffect(() => store.watch(), [store]);
  const [filter, setFilter] = useState<ListFilter>({ status: null, user: null });
  const id = new URLSearchParams(search).get('id');
  return (
    <div className="view grid workflows-view">
      {id ? <WorkflowPanel key={id} id={id} opened={snap.opened} /> : <WorkflowList snap={snap} filter={filter} onFilter={setFilter} />}
    </div>
  );
}
