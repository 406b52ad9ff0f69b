/**
 * What is in the way of a request that does not fit one node, found as kube-scheduler finds victims: take every
 * relevant holder of lower priority, then the others lowest priority (then newest) first until the request fits;
 * then reprieve each taken one whose release turns out not to be needed, highest priority first, then the smaller,
 * then the older. Minimal (no holder can be left out), not necessarily the smallest set. Cost O(h log h + h·g) for
 * h relevant holdings and g GPUs. Pure: it reads the ledger through a WayView. A shape with GPU models sees only the
 * GPUs of those models (gpu-models.ts): their free room, their foreign users, and only holders of them are in the way
 * of its GPUs.
 */
import { gpusFor } from './gpu-models.ts';
import { shapeKey, wholeCount, type GpuSlot, type Holding, type InTheWay, type Shape } from './ledger-types.ts';

/** What the search reads of one ledger (the ledger keeps the holder orders cached between changes). */
export interface WayView {
  /** the ledger's node (named in the answer) */
  node(): string;
  /** free cpu / memory now; null: capacity unknown */
  cpuFree(): number | null;
  memFree(): number | null;
  gpuFits(shape: Shape): boolean;
  slots(): readonly GpuSlot[];
  /** GPU index → position in slots() */
  slotPos(): ReadonlyMap<number, number>;
  replicas(): number;
  multiSlot(): boolean;
  /** holdings in victim order (victimOrder): all of them, or those holding GPUs only */
  victims(gpuOnly: boolean): Holding[];
  /** holdings in reprieve order (reprieveOrder): all of them, or those holding GPUs only */
  reprieves(gpuOnly: boolean): Holding[];
}

export function findWay(v: WayView, shape: Shape, priority: number, eligible?: (h: Holding) => boolean): InTheWay {
  const cpuNow = v.cpuFree();
  const memNow = v.memFree();
  const cpuFree = cpuNow ?? 0;
  const memFree = memNow ?? 0;
  const dims: InTheWay['dims'] = [];
  if (shape.cpu > cpuFree) dims.push('cpu');
  if (shape.memoryMiB > memFree) dims.push('memory');
  const gpuShort = !v.gpuFits(shape);
  if (gpuShort) dims.push('gpu');
  if (!dims.length) return { node: v.node(), dims, holders: [], foreign: [], sufficient: true, lowerOnly: true };

  const cpuShort = dims.includes('cpu');
  const memShort = dims.includes('memory');
  const gpuOnly = !cpuShort && !memShort;
  const { slots, pos } = gpusOf(v, shape);
  // with GPU models: a holder is in the way of its GPUs only when it holds one of them
  const holdsMine = shape.models ? (h: Holding) => h.gpuIndices.some((i) => pos.has(i)) : (h: Holding) => h.gpuIndices.length > 0;
  let candidates: Holding[];
  if (gpuOnly) {
    candidates = v.victims(true);
    if (eligible || shape.models) candidates = candidates.filter((h) => (!eligible || eligible(h)) && holdsMine(h));
  } else {
    candidates = [];
    for (const h of v.victims(false)) {
      if (eligible && !eligible(h)) continue;
      if ((cpuShort && h.shape.cpu > 0) || (memShort && h.shape.memoryMiB > 0) || (gpuShort && holdsMine(h))) candidates.push(h);
    }
  }
  const foreign = gpuShort ? slots.flatMap((s) => s.foreign) : [];

  // simulate releasing candidates one by one
  const sim = new ReleaseSim(slots, pos, shape, gpuShort, v.replicas(), v.multiSlot(), cpuNow, memNow);
  // every lower-priority holder first (kube-scheduler's first step), then the others one by one until it fits
  let n = 0;
  while (n < candidates.length && candidates[n]!.priority < priority) sim.free(candidates[n++]!, 1);
  while (n < candidates.length && !sim.fitsNow()) sim.free(candidates[n++]!, 1);
  if (!sim.fitsNow()) return { node: v.node(), dims, holders: candidates, foreign, sufficient: false, lowerOnly: false };
  // reprieve: keep back every chosen holder whose release is not needed, highest priority first, then the
  // smaller holders (so that few allocations are in the way), then the older
  const chosen = new Set(candidates.slice(0, n));
  for (const h of v.reprieves(gpuOnly)) {
    if (!chosen.has(h)) continue;
    sim.free(h, -1);
    if (sim.fitsNow()) chosen.delete(h);
    else sim.free(h, 1);
  }
  const holders = candidates.filter((h) => chosen.has(h));
  return { node: v.node(), dims, holders, foreign, sufficient: true, lowerOnly: holders.every((h) => h.priority < priority) };
}

/** The GPUs `shape` may use (all, or those of its models) and each one's position among them. */
function gpusOf(v: WayView, shape: Shape): { slots: readonly GpuSlot[]; pos: ReadonlyMap<number, number> } {
  if (!shape.models) return { slots: v.slots(), pos: v.slotPos() };
  const slots = gpusFor(v, shape);
  return { slots, pos: new Map(slots.map((s, i) => [s.index, i])) };
}

/**
 * One ledger's findWay answers at its version, by shape and priority; with an eligibility filter, cached only under
 * a key that names what the filter depends on.
 */
export class WayAnswers {
  private readonly cache = new Map<string, InTheWay>();
  private version = -1;

  constructor(private readonly view: WayView) {}

  answer(version: number, shape: Shape, priority: number, eligible?: (h: Holding) => boolean, cacheKey?: string): InTheWay {
    if (eligible && cacheKey === undefined) return findWay(this.view, shape, priority, eligible);
    if (this.version !== version) {
      this.cache.clear();
      this.version = version;
    }
    const key = cacheKey ?? `${shapeKey(shape)}|${priority}`;
    let w = this.cache.get(key);
    if (!w) {
      if (this.cache.size > 4096) this.cache.clear();
      this.cache.set(key, (w = findWay(this.view, shape, priority, eligible)));
    }
    return w;
  }
}

/** Highest priority first, then the smaller holders (so that few allocations end up in the way), then the older. */
export function reprieveOrder(holdings: Iterable<Holding>, cpuCap: number | null, memCap: number | null, include: (h: Holding) => boolean = () => true): Holding[] {
  const weight = (h: Holding) => h.shape.whole + (h.shape.fracMiB > 0 ? 0.5 : 0) + (cpuCap ? h.shape.cpu / cpuCap : 0) + (memCap ? h.shape.memoryMiB / memCap : 0);
  return [...holdings]
    .filter(include)
    .map((h) => ({ h, w: weight(h) }))
    .sort((a, b) => b.h.priority - a.h.priority || a.w - b.w || a.h.grantedAt - b.h.grantedAt || (a.h.allocationId < b.h.allocationId ? -1 : 1))
    .map((x) => x.h);
}

/** kube-scheduler's victim order: lowest priority first, then the newest. */
export function victimOrder(holdings: Holding[]): Holding[] {
  return holdings.sort((a, b) => a.priority - b.priority || b.grantedAt - a.grantedAt || (a.allocationId < b.allocationId ? -1 : 1));
}

/** What releasing holders would free, for findWay (a class: no closures made per call). */
class ReleaseSim {
  private readonly freedMiB: Float64Array;
  private readonly freedCount: Int32Array;
  private readonly freedWhole: Int32Array;
  private freedCpu = 0;
  private freedMem = 0;

  constructor(
    private readonly slots: readonly GpuSlot[],
    private readonly pos: ReadonlyMap<number, number>,
    private readonly shape: Shape,
    private readonly gpuShort: boolean,
    private readonly replicas: number,
    private readonly multi: boolean,
    /** free cpu / memory now; null: capacity unknown */
    private readonly cpuFree: number | null,
    private readonly memFree: number | null,
  ) {
    this.freedMiB = new Float64Array(slots.length);
    this.freedCount = new Int32Array(slots.length);
    this.freedWhole = new Int32Array(slots.length);
  }

  fitsNow(): boolean {
    const shape = this.shape;
    if (this.cpuFree === null && shape.cpu > 0) return false;
    if (this.memFree === null && shape.memoryMiB > 0) return false;
    if (shape.cpu > (this.cpuFree ?? 0) + this.freedCpu || shape.memoryMiB > (this.memFree ?? 0) + this.freedMem) return false;
    if (!this.gpuShort) return true;
    let whole = 0;
    for (let i = 0; i < this.slots.length; i++) {
      const s = this.slots[i]!;
      if (!s.present || !s.available) continue;
      const holders = wholeCount(s) - this.freedWhole[i]!;
      if (shape.fracMiB > 0) {
        if (holders === 0 && s.memoryMiB - (s.sharedMiB - this.freedMiB[i]!) - s.foreignMiB >= shape.fracMiB) return true;
      } else if (holders < this.replicas && s.foreign.length === 0 && s.shared.size - this.freedCount[i]! === 0) {
        whole += this.multi ? this.replicas - holders : 1;
        if (whole >= shape.whole) return true;
      }
    }
    return false;
  }

  free(h: Holding, sign: 1 | -1): void {
    this.freedCpu += sign * h.shape.cpu;
    this.freedMem += sign * h.shape.memoryMiB;
    for (const gi of h.gpuIndices) {
      const p = this.pos.get(gi);
      if (p === undefined) continue;
      if (h.shape.fracMiB > 0) {
        this.freedMiB[p]! += sign * h.shape.fracMiB;
        this.freedCount[p]! += sign;
      } else {
        this.freedWhole[p]! += sign;
      }
    }
  }
}
