/**
 * The DAG's layout: a column per depth from the left, each column's jobs ordered by the mean row of their parents,
 * columns centred on the tallest, an edge per parent from the parent's right side to the child's left side, and a
 * branch edge from the job of the same branch listed before (unless it is a parent); the size of the drawing; a
 * 1,000-job workflow.
 */
import { describe, expect, it } from 'vitest';
import { GAP_X, GAP_Y, layoutDag, NODE_H, NODE_W, PAD } from '../../web/src/workflows/layout.ts';
import type { JobShape } from '../../web/src/workflows/store.ts';

/** jobs as [parents, depth], each on a branch of its own, or [parents, depth, branch] */
const shape = (...jobs: [number[], number, (number | null)?][]): JobShape[] => jobs.map(([parents, depth, after]) => ({ parents, depth, after: after ?? null }));
const pitch = NODE_H + GAP_Y;

describe('layoutDag', () => {
  it('puts each depth in its column and draws an edge per parent', () => {
    // 0 → 1, 2 → 3
    const l = layoutDag(shape([[], 0], [[0], 1], [[0], 1], [[1, 2], 2]));
    expect(l.columns.map((c) => [c.depth, c.jobs])).toEqual([[0, [0]], [1, [1, 2]], [2, [3]]]);
    expect(l.columns.map((c) => c.x)).toEqual([PAD, PAD + NODE_W + GAP_X, PAD + 2 * (NODE_W + GAP_X)]);
    expect(l.width).toBe(2 * PAD + 3 * NODE_W + 2 * GAP_X);
    expect(l.height).toBe(2 * PAD + 2 * NODE_H + GAP_Y);
    // the single jobs are centred on the column of two
    expect(l.y[1]).toBe(PAD);
    expect(l.y[2]).toBe(PAD + pitch);
    expect(l.y[0]).toBe(PAD + Math.round(pitch / 2));
    expect(l.edges.map((e) => [e.from, e.to, e.kind])).toEqual([[0, 1, 'parent'], [0, 2, 'parent'], [1, 3, 'parent'], [2, 3, 'parent']]);
    // from the parent's right side, at mid-height, to the child's left side
    const e = l.edges[0]!;
    expect(e.d.startsWith(`M${PAD + NODE_W} ${l.y[0]! + NODE_H / 2}C`)).toBe(true);
    expect(e.d.endsWith(` ${PAD + NODE_W + GAP_X} ${PAD + NODE_H / 2}`)).toBe(true);
    expect(l.edgesOf[3]).toEqual([2, 3]);
    expect(l.edgesOf[0]).toEqual([0, 1]);
  });

  it('orders a column by the mean row of the parents, so that edges cross little', () => {
    // roots 0, 1, 2; job 3 is a child of 2, job 4 of 0, job 5 of 1 and 2
    const l = layoutDag(shape([[], 0], [[], 0], [[], 0], [[2], 1], [[0], 1], [[1, 2], 1]));
    expect(l.columns[1]!.jobs).toEqual([4, 5, 3]);
  });

  it('draws the branch order: a job runs after the job of its branch listed before it (branch_after)', () => {
    // branch x: 0, 2, 3 (2 has 0 as a parent already); 5 runs after 1
    const s = shape([[], 0], [[], 0], [[0], 1], [[1], 2, 2], [[], 1], [[], 1, 1]);
    const l = layoutDag(s);
    expect(l.edges.filter((e) => e.kind === 'branch').map((e) => [e.from, e.to])).toEqual([[2, 3], [1, 5]]);
    expect(l.edgesOf[3]).toEqual([1, 2]);
  });

  it('closes up a depth without jobs, and skips parents the workflow does not have', () => {
    const l = layoutDag(shape([[], 0], [[0, 7, -1], 3]));
    expect(l.columns.map((c) => c.depth)).toEqual([0, 3]);
    expect(l.columns[1]!.x).toBe(PAD + NODE_W + GAP_X);
    expect(l.edges.map((e) => [e.from, e.to])).toEqual([[0, 1]]);
  });

  it('draws nothing for no jobs', () => {
    expect(layoutDag([])).toMatchObject({ columns: [], edges: [], width: 0, height: 0 });
  });

  it('lays out 1,000 jobs (ten layers of a hundred, each job after two of the layer before)', () => {
    const jobs: JobShape[] = [];
    for (let i = 0; i < 1000; i++) {
      const layer = Math.floor(i / 100);
      jobs.push({ parents: layer === 0 ? [] : [i - 100, (layer - 1) * 100 + ((i + 37) % 100)], depth: layer, after: null });
    }
    const l = layoutDag(jobs);
    expect(l.columns).toHaveLength(10);
    expect(l.columns.every((c) => c.jobs.length === 100)).toBe(true);
    expect(l.edges).toHaveLength(1800);
    expect(l.height).toBe(2 * PAD + 100 * pitch - GAP_Y);
    // every job has its own place
    expect(new Set(jobs.map((_, i) => `${l.columns.findIndex((c) => c.jobs.includes(i))}:${l.y[i]}`)).size).toBe(1000);
  });
});
