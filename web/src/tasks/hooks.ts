/** React bindings of the TasksStore and the dispatch API (tests pass fakes through the context). */
import { createContext, useContext, useSyncExternalStore } from 'react';
import type { DispatchApi } from './api.ts';
import type { TasksSnapshot, TasksStore } from './store.ts';

export const TasksContext = createContext<{ store: TasksStore; api: DispatchApi } | null>(null);

function useTasksContext(): { store: TasksStore; api: DispatchApi } {
  const ctx = useContext(TasksContext);
  if (!ctx) throw new Error('tasks hooks outside <TasksContext.Provider>');
  return ctx;
}

export function useTasks(): TasksSnapshot {
  const { store } = useTasksContext();
  return useSyncExternalStore(store.subscribe, store.getSnapshot, store.getSnapshot);
}

export function useTasksStore(): TasksStore {
  return useTasksContext().store;
}

export function useDispatchApi(): DispatchApi {
  return useTasksContext().api;
}
