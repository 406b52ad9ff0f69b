import { memo, useMemo } from 'react';
import type { Job } from '../../../shared/workflows.ts';
import { StatusBadge } from './badges.tsx';
import { layoutDag, NODE_H, NODE_W, type DagColumn, type DagEdge, type DagLayout } from './layout.ts';
import type { JobShape } from './store.ts';

/** The element id of a job's box (focus goes back to it when its panel closes). */
export const jobNodeId = (index: number) => `dag-job-${index}`;

interface DagProps {
  jobs: readonly Job[];
  shape: readonly JobShape[];
  selected: number | null;
  onSelect(index: number): void;
  /** the element id of the selected job's panel */
  panelId: string;
}

/**
 * A workflow drawn left to right by depth: a column per depth, a box per job (name, type, state in its colour, runs),
 * the edges from parents to children under them (dashed: from the job of its branch listed before it). Laid out once per structure (`shape`); a change of state redraws
 * only that job's box. Scrolls in both directions inside its frame.
 */
export const Dag = memo(function Dag({ jobs, shape, selected, onSelect, panelId }: DagProps) {
  const layout = useMemo(() => layoutDag(shape), [shape]);
  return (
    <div className="dag-scroll" tabIndex={0} role="region" aria-label={`Jobs by depth: ${layout.columns.length} column${layout.columns.length === 1 ? '' : 's'}`} data-testid="dag-scroll">
      <div className="dag" style={{ width: layout.width, height: layout.height }} data-testid="dag">
        <svg className="dag-edges" width={layout.width} height={layout.height} aria-hidden="true" focusable="false">
          <Edges layout={layout} />
          {selected !== null ? <SelectedEdges layout={layout} index={selected} /> : null}
        </svg>
        {layout.columns.map((c) => (
          <Column key={c.depth} column={c} y={layout.y} jobs={jobs} selected={selected} onSelect={onSelect} panelId={panelId} />
        ))}
      </div>
    </div>
  );
});

/** Every edge: drawn once per layout. */
const Edges = memo(function Edges({ layout }: { layout: DagLayout }) {
  return (
    <g className="dag-edge-set">
      {layout.edges.map((e) => (
        <path key={`${e.kind}-${e.from}-${e.to}`} d={e.d} className={edgeClass(e)} data-testid="dag-edge" data-kind={e.kind} data-from={e.from} data-to={e.to} />
      ))}
    </g>
  );
});

/** The selected job's edges, over the others. */
function SelectedEdges({ layout, index }: { layout: DagLayout; index: number }) {
  return (
    <g className="dag-edge-set dag-edges-selected">
      {(layout.edgesOf[index] ?? []).map((k) => {
        const e = layout.edges[k]!;
        return <path key={k} d={e.d} className={edgeClass(e)} data-testid="dag-edge-selected" />;
      })}
    </g>
  );
}

/** A branch edge (runs after the job of its branch listed before it) is dashed. */
function edgeClass(e: DagEdge): string {
  return e.kind === 'branch' ? 'dag-edge dag-edge-branch' : 'dag-edge';
}

interface ColumnProps {
  column: DagColumn;
  y: readonly number[];
  jobs: readonly Job[];
  selected: number | null;
  onSelect(index: number): void;
  panelId: string;
}

function Column({ column, y, jobs, selected, onSelect, panelId }: ColumnProps) {
  const n = column.jobs.length;
  return (
    <ol className="dag-column" style={{ left: column.x, width: NODE_W }} aria-label={`Depth ${column.depth}: ${n} job${n === 1 ? '' : 's'}`} data-testid="dag-column" data-depth={column.depth}>
      {column.jobs.map((i) => {
        const job = jobs[i];
        return job ? <JobNode key={i} job={job} top={y[i]!} selected={selected === i} onSelect={onSelect} panelId={panelId} /> : null;
      })}
    </ol>
  );
}

interface JobNodeProps {
  job: Job;
  top: number;
  selected: boolean;
  onSelect(index: number): void;
  panelId: string;
}

/** A job's box; re-rendered only when its record (or whether it is selected) changes. */
const JobNode = memo(function JobNode({ job: j, top, selected, onSelect, panelId }: JobNodeProps) {
  const status = j.status.toLowerCase();
  return (
    <li className="dag-slot" style={{ top, height: NODE_H }}>
      <button
        type="button"
        id={jobNodeId(j.index)}
        className={selected ? `dag-node status-${status} selected` : `dag-node status-${status}`}
        aria-expanded={selected}
        aria-controls={selected ? panelId : undefined}
        onClick={() => onSelect(j.index)}
        title={`${j.name} (${j.job_type}): ${j.status}${j.why ? ` — ${j.why}` : ''}`}
        data-testid="dag-node"
        data-index={j.index}
        data-status={j.status}
      >
        <span className="dag-node-name">{j.name}</span>
        <span className="dag-node-type">
          {j.job_type}
          {j.manual ? ' · manual' : ''}
        </span>
        <span className="dag-node-foot">
          <StatusBadge status={j.status} testId="dag-node-status" />
          {j.attempts > 0 ? (
            <span className="muted num" data-testid="dag-node-runs">
              run {j.attempts}
              {j.retries > 0 ? ` of ${j.retries + 1}` : ''}
            </span>
          ) : null}
        </span>
      </button>
    </li>
  );
});
