/**
 * A workflow's DAG as it is drawn, pure: a column per depth from left to right, a box per job, and each edge from a
 * parent's right side to its child's left side as an SVG path. Jobs of one branch run in list order, so the job of
 * its branch listed before a job counts as one more parent (the server says which: `branch_after`; its depths count
 * it too): drawn as a `branch` edge. Within a column the jobs are ordered by the mean row of their parents (one
 * sweep from the left), so that edges cross little; columns are centred on the tallest. It depends on the structure
 * only (parents, branches, depths), never on the jobs' states: a state change does not lay it out again. Linear in
 * jobs and edges, apart from sorting each column.
 */
import type { JobShape } from './opened.ts';

/** a job's box, px */
export const NODE_W = 184;
export const NODE_H = 64;
/** between columns (where the edges run) and between boxes of a column, px */
export const GAP_X = 64;
export const GAP_Y = 14;
/** around the drawing, px */
export const PAD = 16;

export interface DagColumn {
  /** the depth of its jobs */
  depth: number;
  /** left edge of its boxes */
  x: number;
  /** job indices, top to bottom */
  jobs: readonly number[];
}

export interface DagEdge {
  from: number;
  to: number;
  /** one of the child's parents, or the job of its branch listed before it */
  kind: 'parent' | 'branch';
  /** the SVG path */
  d: string;
}

export interface DagLayout {
  columns: readonly DagColumn[];
  /** top of each job's box, by index */
  y: readonly number[];
  edges: readonly DagEdge[];
  /** the edges (indices into `edges`) touching each job */
  edgesOf: readonly (readonly number[])[];
  width: number;
  height: number;
}

export function layoutDag(shape: readonly JobShape[]): DagLayout {
  const n = shape.length;
  const after = shape.map((s) => s.after);
  // columns by depth; a depth without jobs is closed up
  const depths = [...new Set(shape.map((s) => s.depth))].sort((a, b) => a - b);
  const columnOf = new Map(depths.map((d, k) => [d, k]));
  const members: number[][] = depths.map(() => []);
  shape.forEach((s, i) => members[columnOf.get(s.depth)!]!.push(i));
  const tallest = members.reduce((m, c) => Math.max(m, c.length), 0);
  const pitch = NODE_H + GAP_Y;

  const x = new Array<number>(n).fill(NaN);
  const y = new Array<number>(n).fill(NaN);
  const columns: DagColumn[] = members.map((jobs, k) => {
    if (k > 0) {
      const key = new Map<number, number>();
      for (const i of jobs) key.set(i, meanRow(after[i] === null ? shape[i]!.parents : [...shape[i]!.parents, after[i]!], y));
      jobs.sort((a, b) => key.get(a)! - key.get(b)! || a - b);
    }
    const left = PAD + k * (NODE_W + GAP_X);
    const top = PAD + Math.round(((tallest - jobs.length) * pitch) / 2);
    jobs.forEach((i, row) => {
      x[i] = left;
      y[i] = top + row * pitch;
    });
    return { depth: depths[k]!, x: left, jobs };
  });

  const edges: DagEdge[] = [];
  const edgesOf: number[][] = shape.map(() => []);
  const edge = (from: number, to: number, kind: DagEdge['kind']) => {
    // a parent the workflow does not have (the server refuses those): nothing to draw
    if (!(from >= 0 && from < n) || from === to) return;
    edgesOf[from]!.push(edges.length);
    edgesOf[to]!.push(edges.length);
    edges.push({ from, to, kind, d: edgePath(x[from]! + NODE_W, y[from]! + NODE_H / 2, x[to]!, y[to]! + NODE_H / 2) });
  };
  shape.forEach((s, child) => {
    for (const parent of s.parents) edge(parent, child, 'parent');
  });
  after.forEach((prev, child) => {
    if (prev !== null) edge(prev, child, 'branch');
  });

  return {
    columns,
    y,
    edges,
    edgesOf,
    width: depths.length === 0 ? 0 : 2 * PAD + depths.length * (NODE_W + GAP_X) - GAP_X,
    height: tallest === 0 ? 0 : 2 * PAD + tallest * pitch - GAP_Y,
  };
}

/** The mean top of the parents already placed (those in columns to the left); a job without one goes last. */
function meanRow(parents: readonly number[], y: readonly number[]): number {
  let sum = 0;
  let count = 0;
  for (const p of parents) {
    const v = y[p];
    if (v !== undefined && !Number.isNaN(v)) {
      sum += v;
      count++;
    }
  }
  return count === 0 ? Infinity : sum / count;
}

/** A curve leaving the parent horizontally and reaching the child horizontally. */
function edgePath(x1: number, y1: number, x2: number, y2: number): string {
  const bend = x2 > x1 ? Math.min(GAP_X, (x2 - x1) / 2) : GAP_X;
  return `M${x1} ${y1}C${x1 + bend} ${y1} ${x2 - bend} ${y2} ${x2} ${y2}`;
}
