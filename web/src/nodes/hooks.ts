/** React bindings of the nodes: the list (GET /api/nodes with the live snapshots), the node filter of the URL. */
import { createContext, useContext, useEffect, useMemo, useSyncExternalStore } from 'react';
import { replaceSearch, useLocation } from '../lib/router.ts';
import { useNodes } from '../live/hooks.ts';
import { nodeFilterOf, nodeRows, withNodeFilter, type NodeRow } from './rows.ts';
import type { NodeListSnapshot, NodesStore } from './store.ts';

export const NodesContext = createContext<NodesStore | null>(null);

const NONE: NodeListSnapshot = { views: null, error: null, version: 0 };
const noSubscribe = () => () => undefined;
const noSnapshot = () => NONE;

/** GET /api/nodes as last read (nothing without a NodesStore in the context). */
export function useNodeList(): NodeListSnapshot {
  const store = useContext(NodesContext);
  return useSyncExternalStore(store?.subscribe ?? noSubscribe, store?.getSnapshot ?? noSnapshot, store?.getSnapshot ?? noSnapshot);
}

/** Keep GET /api/nodes read while `active` (the component shows reachability). */
export function useWatchNodes(active = true): void {
  const store = useContext(NodesContext);
  useEffect(() => (store && active ? store.watch() : undefined), [store, active]);
}

/** Every node the page knows, with its latest snapshot and what GET /api/nodes says of it. */
export function useNodeRows(): readonly NodeRow[] {
  const live = useNodes();
  const { views } = useNodeList();
  return useMemo(() => nodeRows(live, views), [live, views]);
}

/** The node the URL filters by (null: all), and how to change it (the URL is replaced: a reload keeps it). */
export function useNodeFilter(): [string | null, (node: string | null) => void] {
  const { search } = useLocation();
  const node = nodeFilterOf(search);
  return [node, setNodeFilter];
}

export function setNodeFilter(node: string | null): void {
  replaceSearch(withNodeFilter(location.search, node));
}
