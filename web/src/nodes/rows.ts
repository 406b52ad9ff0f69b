/**
 * The nodes as the views show them: every node the page knows — listed by GET /api/nodes, or seen in a pushed
 * resource_status — with its latest snapshot and its reachability; and the node filter kept in the query string
 * (`?node=gpu-01`), so a reload or a shared link keeps it. Pure, no React.
 */
import type { NodeView } from '../../../shared/agents.ts';
import type { Health, ResourceStatus } from '../../../shared/resources.ts';
import type { NodesSnapshot } from '../live/nodes.ts';

export interface NodeRow {
  name: string;
  /** the node the server is (the hub's own) */
  home: boolean;
  /** its latest resource_status; null: none reached this page */
  status: ResourceStatus | null;
  /** what GET /api/nodes says of it; null: not listed (yet) */
  view: NodeView | null;
  /** the worst rating of its latest snapshot; null without one */
  health: Health | null;
}

/**
 * One row per node: in the order of GET /api/nodes (the hub's own first), then nodes only the push has shown,
 * the home node first and the rest by name.
 */
export function nodeRows(live: NodesSnapshot, views: readonly NodeView[] | null): NodeRow[] {
  const row = (name: string, view: NodeView | null): NodeRow => {
    const status = live.latestByNode.get(name)?.data ?? null;
    return { name, home: name === live.home || (view?.local ?? false), status, view, health: status?.health ?? null };
  };
  const rows = (views ?? []).map((v) => row(v.name, v));
  const listed = new Set(rows.map((r) => r.name));
  const others = [...live.latestByNode.keys()].filter((n) => !listed.has(n));
  others.sort((a, b) => (a === live.home ? -1 : b === live.home ? 1 : a.localeCompare(b)));
  for (const name of others) rows.push(row(name, null));
  return rows;
}

/** Whether a node's agent has stopped reporting (as GET /api/nodes last said). */
export const isUnreachable = (r: Pick<NodeRow, 'view'>): boolean => r.view?.status === 'unreachable';

/** The query parameter of the node filter. */
export const NODE_PARAM = 'node';

/** The views the node filter applies to (their panels are of one node each). */
export const NODE_VIEWS: ReadonlySet<string> = new Set(['/', '/gpus', '/containers']);

/** The node the query string filters by; null: all nodes. */
export function nodeFilterOf(search: string): string | null {
  const v = new URLSearchParams(search).get(NODE_PARAM);
  return v ? v : null;
}

/** `search` with the node filter set to `node` (null: removed), other parameters kept; '' when none is left. */
export function withNodeFilter(search: string, node: string | null): string {
  const q = new URLSearchParams(search);
  if (node === null) q.delete(NODE_PARAM);
  else q.set(NODE_PARAM, node);
  const s = q.toString();
  return s ? `?${s}` : '';
}

/** A link to `path` (a node view) that keeps the node filter. */
export function nodeLink(path: string, node: string | null, hash = ''): string {
  return `${path}${withNodeFilter('', node)}${hash ? `#${hash}` : ''}`;
}

/** The rows a filter keeps: all of them without one. */
export function filterRows(rows: readonly NodeRow[], node: string | null): readonly NodeRow[] {
  return node === null ? rows : rows.filter((r) => r.name === node);
}
