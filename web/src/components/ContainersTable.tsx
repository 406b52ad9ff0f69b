import type { Container } from '../../../shared/resources.ts';
import type { ContainerSort, ContainerSortKey } from '../lib/containers.ts';
import { ContainerRow } from './ContainerRow.tsx';

interface Column {
  key: ContainerSortKey;
  label: string;
  className: string;
  title?: string;
}

const COLUMNS: readonly Column[] = [
  { key: 'name', label: 'Name', className: 'col-name' },
  { key: 'image', label: 'Image', className: 'col-image' },
  { key: 'state', label: 'State', className: 'col-state' },
  { key: 'cpu', label: 'CPU', className: 'col-cpu num', title: '100 % = one core busy' },
  { key: 'memory', label: 'Memory', className: 'col-mem', title: 'used / limit, and percent of the limit' },
  { key: 'network', label: 'Network', className: 'col-net num', title: 'receive ↓ and transmit ↑, per second' },
  { key: 'gpus', label: 'GPUs', className: 'col-gpus' },
  { key: 'health', label: 'Health', className: 'col-health' },
];

export interface ContainersTableProps {
  /** already filtered and sorted */
  rows: readonly Container[];
  sort: ContainerSort;
  onSort(key: ContainerSortKey): void;
  /** shown in the body when the filter leaves no row */
  query: string;
}

/** The table itself: a button in each column header sorts by that column (click again to reverse). */
export function ContainersTable({ rows, sort, onSort, query }: ContainersTableProps) {
  const sortedBy = COLUMNS.find((c) => c.key === sort.key)?.label ?? sort.key;
  return (
    <table className="ctr-table" data-testid="containers-table">
      <caption className="visually-hidden">
        Containers, sorted by {sortedBy}, {sort.direction}
      </caption>
      <thead>
        <tr>
          {COLUMNS.map((col) => {
            const active = col.key === sort.key;
            return (
              <th key={col.key} scope="col" className={col.className} aria-sort={active ? sort.direction : undefined} title={col.title}>
                <button type="button" className="sort-button" data-sort-key={col.key} onClick={() => onSort(col.key)}>
                  {col.label}
                  <span className={active ? 'sort-arrow active' : 'sort-arrow'} aria-hidden="true">
                    {active && sort.direction === 'ascending' ? '▲' : '▼'}
                  </span>
                </button>
              </th>
            );
          })}
        </tr>
      </thead>
      <tbody>
        {rows.map((c) => (
          <ContainerRow key={c.id} c={c} />
        ))}
        {rows.length === 0 ? (
          <tr className="ctr-no-match">
            <td colSpan={COLUMNS.length} data-testid="containers-no-match">
              No container matches “{query.trim()}”
            </td>
          </tr>
        ) : null}
      </tbody>
    </table>
  );
}
