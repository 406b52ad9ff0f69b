/**
 * A workflow's jobs as a DAG: what is wrong with the parent indices (each problem naming the job index and the
 * field, as a 400 answers it), the cycles (named by their indices — any order of the job list is accepted, only
 * cycles are refused), and, for a valid one, each job's depth (longest path from a root; the DAG view draws by it)
 * and a topological order. Pure: no I/O.
 */
import type { FieldProblem } from '../../errors.ts';

export interface DagJob {
  name: string;
  parent_indices: readonly number[];
  /** jobs of one branch run in list order: the branch's previous job counts as one more parent */
  branch_id?: number | string;
}

/**
 * Each job's parents as the run sees them: its `parent_indices`, and the job of its branch listed before it (jobs of
 * one branch keep their order). The cycle check and the depths use these, so a branch order that contradicts the
 * parents is refused like any other cycle.
 */
export function withBranchOrder<J extends DagJob>(jobs: readonly J[]): J[] {
  const lastOfBranch = new Map<number | string, number>();
  return jobs.map((j, i) => {
    if (j.branch_id === undefined) return j;
    const prev = lastOfBranch.get(j.branch_id);
    lastOfBranch.set(j.branch_id, i);
    return prev === undefined || j.parent_indices.includes(prev) ? j : { ...j, parent_indices: [...j.parent_indices, prev] };
  });
}

export interface DagShape {
  /** a topological order of the job indices (parents first; ties by index) */
  order: number[];
  /** longest path from a root, per job */
  depth: number[];
  /** children of each job */
  children: number[][];
}

/** Problems of the parent indices and names; empty when the jobs form a DAG. */
export function dagProblems(jobs: readonly DagJob[]): FieldProblem[] {
  const problems: FieldProblem[] = [];
  const byName = new Map<string, number>();
  jobs.forEach((j, i) => {
    const first = byName.get(j.name);
    if (first !== undefined) problems.push({ field: `jobs.${i}.name`, message: `${JSON.stringify(j.name)} is also the name of job ${first}` });
    else byName.set(j.name, i);
    const seen = new Set<number>();
    j.parent_indices.forEach((p, k) => {
      const field = `jobs.${i}.parent_indices.${k}`;
      if (p === i) problems.push({ field, message: `job ${i} cannot be its own parent` });
      else if (p < 0 || p >= jobs.length) problems.push({ field, message: `${p} is not a job index (0–${jobs.length - 1})` });
      else if (seen.has(p)) problems.push({ field, message: `${p} is named twice` });
      seen.add(p);
    });
  });
  if (problems.length) return problems;
  const ordered = withBranchOrder(jobs);
  const cycle = findCycle(ordered);
  if (cycle) {
    const byBranch = cycle.some((c, k) => !jobs[cycle[(k + 1) % cycle.length]!]!.parent_indices.includes(c));
    const how = byBranch ? 'each the parent of the next, or listed before it in its branch' : 'each the parent of the next';
    problems.push({ field: `jobs.${cycle[0]}.parent_indices`, message: `a cycle: ${[...cycle, cycle[0]].join(' → ')} (${how})` });
  }
  return problems;
}

/**
 * One cycle of the parent relation, as job indices each the parent of the next, starting at its lowest index; null
 * when there is none. Iterative depth-first search (a 100,000-job chain must not overflow the stack).
 */
export function findCycle(jobs: readonly DagJob[]): number[] | null {
  const children = childrenOf(jobs);
  const state = new Uint8Array(jobs.length); // 0 new, 1 on the path, 2 done
  const via = new Int32Array(jobs.length).fill(-1);
  for (let root = 0; root < jobs.length; root++) {
    if (state[root]) continue;
    const stack: [number, number][] = [[root, 0]];
    state[root] = 1;
    while (stack.length) {
      const top = stack[stack.length - 1]!;
      const [node, next] = top;
      if (next < children[node]!.length) {
        top[1]++;
        const child = children[node]![next]!;
        if (state[child] === 1) {
          // back edge node → child: the path from child down to node, then back to child
          const cycle = [node];
          for (let at = node; at !== child; ) cycle.push((at = via[at]!));
          cycle.reverse();
          const low = cycle.indexOf(Math.min(...cycle));
          return [...cycle.slice(low), ...cycle.slice(0, low)];
        }
        if (state[child] === 0) {
          state[child] = 1;
          via[child] = node;
          stack.push([child, 0]);
        }
      } else {
        state[node] = 2;
        stack.pop();
      }
    }
  }
  return null;
}

/** Order and depth of a valid DAG (dagProblems empty), by the parents the run sees (withBranchOrder). */
export function dagShape(given: readonly DagJob[]): DagShape {
  const jobs = withBranchOrder(given);
  const children = childrenOf(jobs);
  const pending = jobs.map((j) => j.parent_indices.length);
  const depth = new Array<number>(jobs.length).fill(0);
  const order: number[] = [];
  // the lowest ready index first, so that the order is the same on every run
  const ready = new MinHeap();
  jobs.forEach((_, i) => pending[i] === 0 && ready.push(i));
  while (ready.size) {
    const i = ready.pop();
    order.push(i);
    for (const c of children[i]!) {
      depth[c] = Math.max(depth[c]!, depth[i]! + 1);
      if (--pending[c]! === 0) ready.push(c);
    }
  }
  if (order.length !== jobs.length) throw new Error('dagShape: not a DAG (check dagProblems first)');
  return { order, depth, children };
}

function childrenOf(jobs: readonly DagJob[]): number[][] {
  const children: number[][] = jobs.map(() => []);
  jobs.forEach((j, i) => {
    for (const p of j.parent_indices) if (p >= 0 && p < jobs.length && p !== i) children[p]!.push(i);
  });
  return children;
}

/** A binary min-heap of job indices. */
class MinHeap {
  private readonly a: number[] = [];
  get size(): number {
    return this.a.length;
  }
  push(v: number): void {
    const a = this.a;
    a.push(v);
    for (let i = a.length - 1; i > 0; ) {
      const up = (i - 1) >> 1;
      if (a[up]! <= a[i]!) break;
      [a[up], a[i]] = [a[i]!, a[up]!];
      i = up;
    }
  }
  pop(): number {
    const a = this.a;
    const top = a[0]!;
    const last = a.pop()!;
    if (a.length) {
      a[0] = last;
      for (let i = 0; ; ) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && a[l]! < a[m]!) m = l;
        if (r < a.length && a[r]! < a[m]!) m = r;
        if (m === i) break;
        [a[m], a[i]] = [a[i]!, a[m]!];
        i = m;
      }
    }
    return top;
  }
}
