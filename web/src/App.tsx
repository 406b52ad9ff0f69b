import { useEffect, useMemo } from 'react';
import type { LiveSource } from './live/connection.ts';
import { LiveContext } from './live/hooks.ts';
import { realTimers } from './lib/timers.ts';
import { FeedStore } from './feed/feed.ts';
import { FeedContext } from './feed/hooks.ts';
import { schedulerApi as defaultSchedulerApi, type SchedulerApi } from './scheduler/api.ts';
import { SchedulerContext } from './scheduler/hooks.ts';
import { SchedulerStore } from './scheduler/store.ts';
import { StrategyApiContext, strategyApi as defaultStrategyApi, type StrategyApi } from './strategy/api.ts';
import { dispatchApi as defaultDispatchApi, type DispatchApi } from './tasks/api.ts';
import { TasksContext } from './tasks/hooks.ts';
import { TasksStore } from './tasks/store.ts';
import { Shell } from './shell/Shell.tsx';

export interface AppProps {
  source: LiveSource;
  /** built on `source` when not given */
  scheduler?: SchedulerStore;
  feed?: FeedStore;
  tasks?: TasksStore;
  /** REST calls (tests pass fakes) */
  schedulerApi?: SchedulerApi;
  strategyApi?: StrategyApi;
  dispatchApi?: DispatchApi;
}

const timers = realTimers;

/** The dashboard: the live source and the stores built on it, given to every view. */
export function App({ source, scheduler, feed, tasks, schedulerApi = defaultSchedulerApi, strategyApi = defaultStrategyApi, dispatchApi = defaultDispatchApi }: AppProps) {
  const store = useMemo(() => scheduler ?? new SchedulerStore(source, { api: schedulerApi, ...timers }), [scheduler, source, schedulerApi]);
  const feedStore = useMemo(() => feed ?? new FeedStore(source, timers), [feed, source]);
  // listens from the start (tasks per second); asks the API only while the Tasks view is open
  const tasksStore = useMemo(() => tasks ?? new TasksStore(source, { api: dispatchApi, ...timers }), [tasks, source, dispatchApi]);
  useEffect(() => {
    store.start();
    feedStore.start();
    tasksStore.start();
    return () => {
      store.stop();
      feedStore.stop();
      tasksStore.stop();
    };
  }, [store, feedStore, tasksStore]);
  const sched = useMemo(() => ({ store, api: schedulerApi }), [store, schedulerApi]);
  const dispatch = useMemo(() => ({ store: tasksStore, api: dispatchApi }), [tasksStore, dispatchApi]);
  return (
    <LiveContext.Provider value={source}>
      <SchedulerContext.Provider value={sched}>
        <FeedContext.Provider value={feedStore}>
          <StrategyApiContext.Provider value={strategyApi}>
            <TasksContext.Provider value={dispatch}>
              <Shell />
            </TasksContext.Provider>
          </StrategyApiContext.Provider>
        </FeedContext.Provider>
      </SchedulerContext.Provider>
    </LiveContext.Provider>
  );
}
