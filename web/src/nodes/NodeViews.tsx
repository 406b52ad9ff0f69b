/**
 * The views of one node's resources when the page knows several nodes: the GPUs and the containers grouped by node
 * (the node filter's only), the filter bar above them, and the network rates of a node without history. With one
 * node they render exactly what they did before there were nodes.
 */
import { memo, type ReactNode } from 'react';
import type { NetworkInterface, ResourceStatus } from '../../../shared/resources.ts';
import { ContainersPanel } from '../components/ContainersPanel.tsx';
import { GpuPanel } from '../components/GpuPanel.tsx';
import { Panel, Waiting } from '../components/Panel.tsx';
import { formatRate } from '../lib/format.ts';
import { NodeFilter } from './NodeFilter.tsx';
import { NodeState } from './Reachability.tsx';
import { useNodeFilter, useNodeRows, useWatchNodes } from './hooks.ts';
import { NODE_VIEWS, filterRows, isUnreachable, type NodeRow } from './rows.ts';
import './nodes.css';

/**
 * A view of every node: with one node, `one` as ever; with several, `each` for every node the filter shows (a
 * notice when the filter names none).
 */
function PerNodeView({ one, each }: { one: ReactNode; each: (r: NodeRow) => ReactNode }) {
  const rows = useNodeRows();
  const [filter] = useNodeFilter();
  if (rows.length <= 1) return <div className="view grid">{one}</div>;
  const shown = filterRows(rows, filter);
  return (
    <div className="view grid">
      {shown.length === 0 ? <NoSuchNode name={filter} /> : null}
      {shown.map(each)}
    </div>
  );
}

/** The GPUs: of the one node as ever; with several, a group per node, every card labelled `node · GPU i`. */
export function GpusView({ status }: { status: ResourceStatus | null }) {
  return (
    <PerNodeView
      one={<GpuPanel gpus={status?.gpus ?? null} source={status?.sources.gpu} />}
      each={(r) => <GpuPanel key={r.name} gpus={r.status?.gpus ?? null} source={r.status?.sources.gpu} node={{ name: r.name, home: r.home }} aside={<NodeState row={r} />} stale={isUnreachable(r)} />}
    />
  );
}

/** The containers: of the one node as ever; with several, a table per node. */
export function ContainersView({ status }: { status: ResourceStatus | null }) {
  return (
    <PerNodeView
      one={<ContainersPanel containers={status?.containers ?? null} source={status?.sources.docker} />}
      each={(r) => <ContainersPanel key={r.name} containers={r.status?.containers ?? null} source={r.status?.sources.docker} node={r.name} aside={<NodeState row={r} />} />}
    />
  );
}

/**
 * The node filter above the views it applies to (overview, GPUs, containers), once the page knows more than one
 * node; it keeps GET /api/nodes read while such a view is open.
 */
export const NodeFilterBar = memo(function NodeFilterBar({ path }: { path: string }) {
  const applies = NODE_VIEWS.has(path);
  useWatchNodes(applies);
  const rows = useNodeRows();
  const [filter, setFilter] = useNodeFilter();
  if (!applies || rows.length <= 1) return null;
  return <NodeFilter rows={rows} selected={filter} onSelect={setFilter} />;
});

function NoSuchNode({ name }: { name: string | null }) {
  return (
    <section className="panel panel-wide" data-testid="node-unknown">
      <p className="waiting">
        No snapshot of node <strong>{name}</strong> has arrived.
      </p>
    </section>
  );
}

/** A node's network interfaces as rates (the chart with history is the home node's). */
export function NetworkRates({ network }: { network: readonly NetworkInterface[] | null }) {
  return (
    <Panel title="Network" wide testId="network">
      {network === null ? (
        <Waiting />
      ) : network.length === 0 ? (
        <p className="muted">no interfaces reported</p>
      ) : (
        <table className="data-table">
          <thead>
            <tr>
              <th scope="col">interface</th>
              <th scope="col" className="num">↓ receive</th>
              <th scope="col" className="num">↑ send</th>
            </tr>
          </thead>
          <tbody>
            {network.map((n) => (
              <tr key={n.iface}>
                <th scope="row">{n.iface}</th>
                <td className="num">{formatRate(n.rxBytesPerSec)}</td>
                <td className="num">{formatRate(n.txBytesPerSec)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Panel>
  );
}
