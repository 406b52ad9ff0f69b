import { useEffect, useMemo } from 'react';
import type { LiveSource } from './live/source.ts';
import { LiveContext } from './live/hooks.ts';
import { realTimers, type Timers } from './lib/timers.ts';
import { FeedStore } from './feed/feed.ts';
import { FeedContext } from './feed/hooks.ts';
import { schedulerApi as defaultSchedulerApi, type SchedulerApi } from './scheduler/api.ts';
import { SchedulerContext } from './scheduler/hooks.ts';
import { SchedulerStore } from './scheduler/store.ts';
import { StrategyApiContext, strategyApi as defaultStrategyApi, type StrategyApi } from './strategy/api.ts';
import { dispatchApi as defaultDispatchApi, type DispatchApi } from './tasks/api.ts';
import { TasksContext } from './tasks/hooks.ts';
import { TasksStore } from './tasks/store.ts';
import { nodesApi as defaultNodesApi, type NodesApi } from './nodes/api.ts';
import { NodesContext } from './nodes/hooks.ts';
import { NodesStore } from './nodes/store.ts';
import { Shell } from './shell/Shell.tsx';
import { workersApi as defaultWorkersApi, type WorkersApi } from './workers/api.ts';
import { WorkersContext } from './workers/hooks.ts';
import { WorkersStore } from './workers/store.ts';
import { workflowsApi as defaultWorkflowsApi, type WorkflowsApi } from './workflows/api.ts';
import { WorkflowsContext } from './workflows/hooks.ts';
import { WorkflowsStore } from './workflows/store.ts';

export interface AppProps {
  source: LiveSource;
  /** built on `source` when not given */
  scheduler?: SchedulerStore;
  feed?: FeedStore;
  tasks?: TasksStore;
  workers?: WorkersStore;
  workflows?: WorkflowsStore;
  nodes?: NodesStore;
  /** REST calls (tests pass fakes) */
  schedulerApi?: SchedulerApi;
  strategyApi?: StrategyApi;
  dispatchApi?: DispatchApi;
  workersApi?: WorkersApi;
  workflowsApi?: WorkflowsApi;
  nodesApi?: NodesApi;
  /** clock and timers of the stores built here and of the views that poll (tests pass a manual clock); default the browser's */
  timers?: Timers;
}

/** The dashboard: the live source and the stores built on it, given to every view. */
export function App({
  source, scheduler, feed, tasks, workers, workflows, nodes, schedulerApi = defaultSchedulerApi, strategyApi = defaultStrategyApi, dispatchApi = defaultDispatchApi,
  workersApi = defaultWorkersApi, workflowsApi = defaultWorkflowsApi, nodesApi = defaultNodesApi, timers = realTimers,
}: AppProps) {
  const store = useMemo(() => scheduler ?? new SchedulerStore(source, { api: schedulerApi, ...timers }), [scheduler, source, schedulerApi, timers]);
  const feedStore = useMemo(() => feed ?? new FeedStore(source, timers), [feed, source, timers]);
  // listens from the start (tasks per second); asks the API only while the Tasks view is open
  const tasksStore = useMemo(() => tasks ?? new TasksStore(source, { api: dispatchApi, ...timers }), [tasks, source, dispatchApi, timers]);
  // listens from the start; asks the API only while the Workers view is open
  const workersStore = useMemo(() => workers ?? new WorkersStore(source, { api: workersApi, ...timers }), [workers, source, workersApi, timers]);
  // listens from the start; asks the API only while the Workflows view is open
  const workflowsStore = useMemo(() => workflows ?? new WorkflowsStore(source, { api: workflowsApi, ...timers }), [workflows, source, workflowsApi, timers]);
  // follows the live snapshots; asks GET /api/nodes only while a view of the nodes is open
  const nodesStore = useMemo(() => nodes ?? new NodesStore(source, { api: nodesApi, ...timers }), [nodes, source, nodesApi, timers]);
  useEffect(() => {
    store.start();
    feedStore.start();
    tasksStore.start();
    workersStore.start();
    workflowsStore.start();
    nodesStore.start();
    return () => {
      store.stop();
      feedStore.stop();
      tasksStore.stop();
      workersStore.stop();
      workflowsStore.stop();
      nodesStore.stop();
    };
  }, [store, feedStore, tasksStore, workersStore, workflowsStore, nodesStore]);
  const sched = useMemo(() => ({ store, api: schedulerApi }), [store, schedulerApi]);
  const dispatch = useMemo(() => ({ store: tasksStore, api: dispatchApi }), [tasksStore, dispatchApi]);
  const work = useMemo(() => ({ store: workersStore, api: workersApi, timers }), [workersStore, workersApi, timers]);
  const flows = useMemo(() => ({ store: workflowsStore, api: workflowsApi }), [workflowsStore, workflowsApi]);
  return (
    <LiveContext.Provider value={source}>
      <SchedulerContext.Provider value={sched}>
        <FeedContext.Provider value={feedStore}>
          <StrategyApiContext.Provider value={strategyApi}>
            <TasksContext.Provider value={dispatch}>
              <WorkersContext.Provider value={work}>
                <WorkflowsContext.Provider value={flows}>
                  <NodesContext.Provider value={nodesStore}>
                    <Shell />
                  </NodesContext.Provider>
                </WorkflowsContext.Provider>
              </WorkersContext.Provider>
            </TasksContext.Provider>
          </StrategyApiContext.Provider>
        </FeedContext.Provider>
      </SchedulerContext.Provider>
    </LiveContext.Provider>
  );
}
