import { useEffect, useMemo } from 'react';
import type { LiveSource } from './live/connection.ts';
import { LiveContext } from './live/hooks.ts';
import { FeedStore } from './feed/feed.ts';
import { FeedContext } from './feed/hooks.ts';
import { schedulerApi as defaultSchedulerApi, type SchedulerApi } from './scheduler/api.ts';
import { SchedulerContext } from './scheduler/hooks.ts';
import { SchedulerStore } from './scheduler/store.ts';
import { StrategyApiContext, strategyApi as defaultStrategyApi, type StrategyApi } from './strategy/api.ts';
import { Shell } from './shell/Shell.tsx';

export interface AppProps {
  source: LiveSource;
  /** built on `source` when not given */
  scheduler?: SchedulerStore;
  feed?: FeedStore;
  /** REST calls (tests pass fakes) */
  schedulerApi?: SchedulerApi;
  strategyApi?: StrategyApi;
}

const timers = {
  now: () => Date.now(),
  setTimeout: (fn: () => void, ms: number): unknown => setTimeout(fn, ms),
  clearTimeout: (h: unknown) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

/** The dashboard: the live source and the stores built on it, given to every view. */
export function App({ source, scheduler, feed, schedulerApi = defaultSchedulerApi, strategyApi = defaultStrategyApi }: AppProps) {
  const store = useMemo(() => scheduler ?? new SchedulerStore(source, { api: schedulerApi, ...timers }), [scheduler, source, schedulerApi]);
  const feedStore = useMemo(() => feed ?? new FeedStore(source, timers), [feed, source]);
  useEffect(() => {
    store.start();
    feedStore.start();
    return () => {
      store.stop();
      feedStore.stop();
    };
  }, [store, feedStore]);
  const sched = useMemo(() => ({ store, api: schedulerApi }), [store, schedulerApi]);
  return (
    <LiveContext.Provider value={source}>
      <SchedulerContext.Provider value={sched}>
        <FeedContext.Provider value={feedStore}>
          <StrategyApiContext.Provider value={strategyApi}>
            <Shell />
          </StrategyApiContext.Provider>
        </FeedContext.Provider>
      </SchedulerContext.Provider>
    </LiveContext.Provider>
  );
}
