/** React bindings of the WorkersStore, the worker routes and the timers of the logs panel (tests pass fakes through the context). */
import { createContext, useContext, useSyncExternalStore } from 'react';
import type { Timers } from '../lib/timers.ts';
import type { WorkersApi } from './api.ts';
import type { WorkersSnapshot, WorkersStore } from './store.ts';

export interface WorkersContextValue {
  store: WorkersStore;
  api: WorkersApi;
  timers: Timers;
}

export const WorkersContext = createContext<WorkersContextValue | null>(null);

export function useWorkersContext(): WorkersContextValue {
  const ctx = useContext(WorkersContext);
  if (!ctx) throw new Error('workers hooks outside <WorkersContext.Provider>');
  return ctx;
}

export function useWorkers(): WorkersSnapshot {
  const { store } = useWorkersContext();
  return useSyncExternalStore(store.subscribe, store.getSnapshot, store.getSnapshot);
}
