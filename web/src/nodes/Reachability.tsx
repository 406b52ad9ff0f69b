import { formatClock, formatDuration } from '../lib/format.ts';
import { useSharedNow } from '../live/hooks.ts';
import { HealthBadge } from '../components/HealthBadge.tsx';
import { isUnreachable, type NodeRow } from './rows.ts';

/**
 * Whether the node's agent reports: `reachable`, or `unreachable · last seen 2m 05s ago` (clearly marked); nothing
 * before GET /api/nodes has said.
 */
export function Reachability({ row }: { row: NodeRow }) {
  const view = row.view;
  if (!view) return <span className="muted" data-testid="node-reachability" data-reachability="unknown">—</span>;
  if (!isUnreachable(row)) {
    return (
      <span className="reach reach-ok" data-testid="node-reachability" data-reachability="reachable">
        reachable
      </span>
    );
  }
  return (
    <span className="reach reach-lost" data-testid="node-reachability" data-reachability="unreachable" role="status">
      <strong>unreachable</strong>
      {view.lastSeenAt === null ? <span> · not seen since the server started</span> : <LastSeen at={view.lastSeenAt} />}
    </span>
  );
}

function LastSeen({ at }: { at: number }) {
  const now = useSharedNow(1000);
  return (
    <span title={`last snapshot at ${formatClock(at)}`} data-testid="node-last-seen">
      {' '}
      · last seen {formatDuration(now - at)} ago
    </span>
  );
}

/** A node group's header: its health and reachability (the views of GPUs and containers, with several nodes). */
export function NodeState({ row }: { row: NodeRow }) {
  return (
    <span className="node-state">
      {row.health ? <HealthBadge health={row.health} /> : null}
      <Reachability row={row} />
    </span>
  );
}
