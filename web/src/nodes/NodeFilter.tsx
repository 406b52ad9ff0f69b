import { memo } from 'react';
import { isUnreachable, type NodeRow } from './rows.ts';

export interface NodeFilterProps {
  rows: readonly NodeRow[];
  /** the node filtered by; null: all */
  selected: string | null;
  onSelect(node: string | null): void;
}

/** "All nodes / node-a / node-b": which node's GPUs, containers and host the views show (kept in the URL). */
export const NodeFilter = memo(function NodeFilter({ rows, selected, onSelect }: NodeFilterProps) {
  // a filter from the URL names a node not known (yet): still shown, so it can be seen and undone
  const names = rows.map((r) => r.name);
  if (selected !== null && !names.includes(selected)) names.push(selected);
  const byName = new Map(rows.map((r) => [r.name, r]));
  return (
    <div className="node-filter panel-wide" data-testid="node-filter">
      <span className="sublabel" id="node-filter-label">
        Node
      </span>
      <div className="segmented" role="group" aria-labelledby="node-filter-label">
        <button type="button" aria-pressed={selected === null} onClick={() => onSelect(null)} data-node="">
          All nodes
        </button>
        {names.map((name) => {
          const row = byName.get(name);
          const lost = row ? isUnreachable(row) : false;
          return (
            <button
              key={name}
              type="button"
              aria-pressed={selected === name}
              onClick={() => onSelect(name)}
              data-node={name}
              className={lost ? 'node-chip-lost' : undefined}
              title={lost ? `${name}: unreachable` : name}
            >
              {name}
            </button>
          );
        })}
      </div>
    </div>
  );
});
