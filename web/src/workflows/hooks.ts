/** React bindings of the WorkflowsStore and the workflow routes (tests pass fakes through the context). */
import { createContext, useContext, useSyncExternalStore } from 'react';
import type { WorkflowsApi } from './api.ts';
import type { WorkflowsSnapshot, WorkflowsStore } from './store.ts';

export interface WorkflowsContextValue {
  store: WorkflowsStore;
  api: WorkflowsApi;
}

export const WorkflowsContext = createContext<WorkflowsContextValue | null>(null);

export function useWorkflowsContext(): WorkflowsContextValue {
  const ctx = useContext(WorkflowsContext);
  if (!ctx) throw new Error('workflows hooks outside <WorkflowsContext.Provider>');
  return ctx;
}

export function useWorkflows(): WorkflowsSnapshot {
  const { store } = useWorkflowsContext();
  return useSyncExternalStore(store.subscribe, store.getSnapshot, store.getSnapshot);
}
