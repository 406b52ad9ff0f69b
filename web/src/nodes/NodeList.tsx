import { memo, useId } from 'react';
import type { NodeView } from '../../../shared/agents.ts';
import { HealthBadge } from '../components/HealthBadge.tsx';
import { MISSING, formatMiB } from '../lib/format.ts';
import { Reachability } from './Reachability.tsx';
import { isUnreachable, type NodeRow } from './rows.ts';

export interface NodeListProps {
  rows: readonly NodeRow[];
  /** the node filtered by (its row is marked); null: all */
  selected: string | null;
  onSelect(node: string | null): void;
  /** GET /api/nodes failed with this (the rows keep the last answer) */
  error?: string | null;
}

/**
 * Every node: its health (the worst rating of its latest snapshot), whether its agent reports, how many GPUs it has,
 * and what is allocated there of its GPUs, CPU and memory. A node's name filters the views by it.
 */
export const NodeList = memo(function NodeList({ rows, selected, onSelect, error }: NodeListProps) {
  const id = useId();
  return (
    <section className="panel panel-wide node-list" aria-labelledby={id} data-testid="node-list">
      <header className="panel-head">
        <h2 id={id}>Nodes</h2>
        <span className="muted num">
          {rows.length} node{rows.length === 1 ? '' : 's'}
          {unreachableCount(rows) > 0 ? ` · ${unreachableCount(rows)} unreachable` : ''}
        </span>
      </header>
      {error ? (
        <p className="notice notice-bad" role="alert">
          The node list could not be read: {error}
        </p>
      ) : null}
      <div className="table-scroll">
        <table className="data-table">
          <thead>
            <tr>
              <th scope="col">node</th>
              <th scope="col">health</th>
              <th scope="col">reachability</th>
              <th scope="col" className="num">GPUs</th>
              <th scope="col" className="num">GPUs allocated</th>
              <th scope="col" className="num">CPU allocated</th>
              <th scope="col" className="num">memory allocated</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => (
              <tr
                key={r.name}
                className={[selected === r.name ? 'current' : '', isUnreachable(r) ? 'node-lost' : ''].filter(Boolean).join(' ') || undefined}
                data-testid="node-row"
                data-node={r.name}
              >
                <th scope="row">
                  <button
                    type="button"
                    className="linklike"
                    aria-pressed={selected === r.name}
                    title={selected === r.name ? 'show all nodes' : `show ${r.name} only`}
                    onClick={() => onSelect(selected === r.name ? null : r.name)}
                  >
                    {r.name}
                  </button>
                  {r.home ? <span className="muted node-home"> · this server</span> : null}
                </th>
                <td>{r.health ? <HealthBadge health={r.health} /> : <span className="muted">no snapshot yet</span>}</td>
                <td>
                  <Reachability row={r} />
                </td>
                <td className="num" data-testid="node-gpus">
                  {r.status ? r.status.gpus.length : (r.view?.capacity.gpus ?? MISSING)}
                </td>
                <td className="num" data-testid="node-gpus-allocated">
                  {r.view ? `${r.view.allocated.gpus} / ${r.view.capacity.gpus}` : MISSING}
                </td>
                <td className="num" data-testid="node-cpu-allocated">
                  {r.view ? `${pair(r.view.allocated.cpu, r.view.capacity.cpu, cores)} cores` : MISSING}
                </td>
                <td className="num" data-testid="node-memory-allocated">
                  {r.view ? pair(r.view.allocated.memoryMiB, r.view.capacity.memoryMiB, formatMiB) : MISSING}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
});

const unreachableCount = (rows: readonly NodeRow[]) => rows.filter(isUnreachable).length;

/** Millicores as cores: `0`, `1.5`, `64`. */
const cores = (millicores: number): string => {
  const c = millicores / 1000;
  return Number.isInteger(c) ? String(c) : c.toFixed(1);
};

/** `allocated / capacity` (capacity unknown before the node's first host sample). */
function pair(allocated: number, capacity: NodeView['capacity']['cpu'], format: (n: number) => string): string {
  return `${format(allocated)} / ${capacity === null ? MISSING : format(capacity)}`;
}
