/** React bindings of the SchedulerStore. */
import { createContext, useContext, useSyncExternalStore } from 'react';
import type { SchedulerSnapshot, SchedulerStore } from './store.ts';
import type { SchedulerApi } from './api.ts';

export const SchedulerContext = createContext<{ store: SchedulerStore; api: SchedulerApi } | null>(null);

function useSchedulerContext(): { store: SchedulerStore; api: SchedulerApi } {
  const ctx = useContext(SchedulerContext);
  if (!ctx) throw new Error('scheduler hooks outside <SchedulerContext.Provider>');
  return ctx;
}

export function useScheduler(): SchedulerSnapshot {
  const { store } = useSchedulerContext();
  return useSyncExternalStore(store.subscribe, store.getSnapshot, store.getSnapshot);
}

export function useSchedulerApi(): SchedulerApi {
  return useSchedulerContext().api;
}

export function useSchedulerStore(): SchedulerStore {
  return useSchedulerContext().store;
}
