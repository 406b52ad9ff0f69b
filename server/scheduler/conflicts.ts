/**
 * Conflicts (pure): severity, and the ConflictBook that opens, updates and resolves them, keeps them as history,
 * and returns each change as a record for the caller to persist and push.
 *
 * Severity 1–5 of a waiting request's conflict (resource_competition, priority_conflict):
 *   severity = clamp(1 + P + W + S, 1, 5)
 *   P priority: 0 when priority ≤ 0, 1 for 1–99, 2 for ≥ 100
 *   W wait:     0 under 1 min, 1 from 1 min, 2 from 10 min, 3 from 1 h   (time since the request was submitted)
 *   S size:     1 when the request needs ≥ half the node (its dominant share of cpu, memory or GPUs)
 * So a fresh small request at priority 0 is 1, anything waiting an hour is ≥ 4, an urgent large one waiting is 5.
 * Severity of a schedule_conflict (reality disagrees with the ledger):
 *   severity = clamp(1 + A + W, 1, 5), A = 2 when it touches an active allocation (its GPU is held, or an ended
 *   allocation's process still runs), W as above over the time since the conflict opened.
 * The thresholds are options (SeverityConfig).
 *
 * Why a request waits is computed here too, from the ledger (pure: `evaluateWait`); where reality contradicts the
 * ledger, in node-conflicts.ts.
 */
import type { Conflict, ConflictChange, ConflictHolder, ConflictResolution, ConflictType } from '../../shared/scheduler.ts';
import { modelsText } from './gpu-models.ts';
import type { GpuUsage } from './inventory.ts';
import type { Holding, InTheWay, Shape } from './ledger.ts';

/** What explaining a wait needs: a node's Ledger, or the Cluster of them. */
export interface WaitView {
  knows(shape: Shape): boolean;
  inTheWay(shape: Shape, priority: number): InTheWay;
  readonly capacity: { cpu: number | null; memoryMiB: number | null; gpus: number | null };
}

export interface SeverityConfig {
  /** wait thresholds (ms) for +1, +2, +3 */
  waitMs: readonly [number, number, number];
  /** priority thresholds for +1, +2 */
  priority: readonly [number, number];
  /** dominant share of the node from which a request counts as large (+1) */
  largeShare: number;
}

export const DEFAULT_SEVERITY: SeverityConfig = {
  waitMs: [60_000, 600_000, 3_600_000],
  priority: [1, 100],
  largeShare: 0.5,
};

const clamp = (n: number): number => Math.max(1, Math.min(5, n));

function waitTerm(waitMs: number, cfg: SeverityConfig): number {
  return waitMs >= cfg.waitMs[2] ? 3 : waitMs >= cfg.waitMs[1] ? 2 : waitMs >= cfg.waitMs[0] ? 1 : 0;
}

export function requestSeverity(o: { priority: number; waitMs: number; share: number }, cfg: SeverityConfig = DEFAULT_SEVERITY): number {
  const p = o.priority >= cfg.priority[1] ? 2 : o.priority >= cfg.priority[0] ? 1 : 0;
  const s = o.share >= cfg.largeShare ? 1 : 0;
  return clamp(1 + p + waitTerm(o.waitMs, cfg) + s);
}

export function scheduleSeverity(o: { touchesAllocation: boolean; openMs: number }, cfg: SeverityConfig = DEFAULT_SEVERITY): number {
  return clamp(1 + (o.touchesAllocation ? 2 : 0) + waitTerm(o.openMs, cfg));
}

export interface ConflictInit {
  key: string;
  type: ConflictType;
  severity: number;
  requestId: string | null;
  holders: ConflictHolder[];
  resource: string;
  message: string;
  /** the node a schedule_conflict is about */
  node?: string;
}

export type ConflictPatch = Partial<Omit<ConflictInit, 'key'>>;

export interface ConflictBookOptions {
  newId: () => string;
  /** resolved conflicts kept in memory (oldest dropped first; the store keeps them all) @default 10000 */
  maxResolved?: number;
}

export class ConflictBook {
  private readonly byId = new Map<string, Conflict>();
  /** open conflicts by key */
  private readonly openByKey = new Map<string, string>();
  /** resolved ids, oldest first */
  private readonly resolved = new Set<string>();
  private readonly newId: () => string;
  private readonly maxResolved: number;

  constructor(opts: ConflictBookOptions) {
    this.newId = opts.newId;
    this.maxResolved = opts.maxResolved ?? 10_000;
  }

  get(id: string): Conflict | undefined {
    return this.byId.get(id);
  }

  openFor(key: string): Conflict | undefined {
    const id = this.openByKey.get(key);
    return id === undefined ? undefined : this.byId.get(id);
  }

  /** Open conflicts, oldest first. */
  *openConflicts(): IterableIterator<Conflict> {
    for (const id of this.openByKey.values()) yield this.byId.get(id)!;
  }

  get openCount(): number {
    return this.openByKey.size;
  }

  /** Every conflict kept, open and resolved, in the order they were opened. */
  all(): IterableIterator<Conflict> {
    return this.byId.values();
  }

  /** Open a conflict; throws if one is already open under that key (update it instead). */
  openConflict(init: ConflictInit, at: number): ConflictChange {
    if (this.openByKey.has(init.key)) throw new Error(`a conflict is already open for ${init.key}`);
    const conflict: Conflict = { id: this.newId(), ...init, openedAt: at, updatedAt: at, status: 'open' };
    this.byId.set(conflict.id, conflict);
    this.openByKey.set(conflict.key, conflict.id);
    return { kind: 'conflict_opened', at, conflict };
  }

  /** Apply what changed; null when nothing did (no record to persist or push). */
  update(id: string, patch: ConflictPatch, at: number): ConflictChange | null {
    const c = this.byId.get(id);
    if (!c || c.status !== 'open') return null;
    const typeChanged = patch.type !== undefined && patch.type !== c.type;
    const severityChanged = patch.severity !== undefined && patch.severity !== c.severity;
    const requestChanged = patch.requestId !== undefined && patch.requestId !== c.requestId;
    const resourceChanged = patch.resource !== undefined && patch.resource !== c.resource;
    const messageChanged = patch.message !== undefined && patch.message !== c.message;
    const nodeChanged = patch.node !== undefined && patch.node !== c.node;
    const holdersChanged = patch.holders !== undefined && patch.holders !== c.holders && !sameHolders(c.holders, patch.holders);
    if (!(typeChanged || severityChanged || requestChanged || resourceChanged || messageChanged || nodeChanged || holdersChanged)) return null;
    const next: Conflict = {
      ...c,
      type: typeChanged ? patch.type! : c.type,
      severity: severityChanged ? patch.severity! : c.severity,
      requestId: requestChanged ? patch.requestId! : c.requestId,
      resource: resourceChanged ? patch.resource! : c.resource,
      message: messageChanged ? patch.message! : c.message,
      holders: holdersChanged ? patch.holders! : c.holders,
      ...(nodeChanged ? { node: patch.node! } : {}),
      updatedAt: at,
    };
    this.byId.set(id, next);
    return { kind: 'conflict_updated', at, conflict: next };
  }

  resolve(id: string, resolution: ConflictResolution, at: number): ConflictChange | null {
    const c = this.byId.get(id);
    if (!c || c.status !== 'open') return null;
    const next: Conflict = { ...c, status: 'resolved', resolution, resolvedAt: at, updatedAt: at };
    this.byId.set(id, next);
    this.openByKey.delete(c.key);
    this.keepResolved(id);
    return { kind: 'conflict_resolved', at, conflict: next };
  }

  /** A conflict as another engine left it (a follower replica's read model): added, or replacing the one it was. */
  put(c: Conflict): void {
    this.byId.set(c.id, c);
    if (c.status === 'open') this.openByKey.set(c.key, c.id);
    else {
      if (this.openByKey.get(c.key) === c.id) this.openByKey.delete(c.key);
      this.keepResolved(c.id);
    }
  }

  /** Put back conflicts loaded from the store (no records: they are already persisted). */
  restore(conflicts: Iterable<Conflict>): void {
    const sorted = [...conflicts].sort((a, b) => a.openedAt - b.openedAt);
    for (const c of sorted) {
      if (c.status === 'open') {
        const other = this.openByKey.get(c.key);
        if (other !== undefined && other !== c.id) throw new Error(`two open conflicts for ${c.key}: ${other} and ${c.id}`);
        this.openByKey.set(c.key, c.id);
        this.byId.set(c.id, c);
      } else {
        this.byId.set(c.id, c);
        this.keepResolved(c.id);
      }
    }
  }

  private keepResolved(id: string): void {
    this.resolved.add(id);
    while (this.resolved.size > this.maxResolved) {
      const oldest = this.resolved.values().next().value as string;
      this.resolved.delete(oldest);
      this.byId.delete(oldest);
    }
  }
}

/** Identity of a holder; a process's memory figure is left out (it moves every sample: not worth a record). */
function holderKey(h: ConflictHolder): string {
  return h.kind === 'allocation' ? `a:${h.allocationId}` : `p:${h.pid}:${h.containerId}:${h.gpuIndex}:${h.allocationId}@${h.node}`;
}

export function sameHolders(a: readonly ConflictHolder[], b: readonly ConflictHolder[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i] && holderKey(a[i]!) !== holderKey(b[i]!)) return false;
  return true;
}

export type WaitEvaluation = Omit<ConflictInit, 'key' | 'requestId' | 'severity'>;

/** A holding as a conflict's holder, on `node` when known. */
export function allocationHolder(h: Holding, node?: string): ConflictHolder {
  return {
    kind: 'allocation', allocationId: h.allocationId, requestId: h.requestId, owner: h.owner, priority: h.priority, gpuIndices: [...h.gpuIndices],
    ...(node !== undefined ? { node } : {}),
  };
}

/** A GPU user as a conflict's holder, on `node` when known. */
export function processHolder(u: GpuUsage, node?: string): ConflictHolder {
  return {
    kind: 'process', pid: u.pid, containerId: u.containerId, name: u.name, gpuIndex: u.gpuIndex, usedMemoryMiB: u.usedMemoryMiB, allocationId: u.allocationId,
    ...(node !== undefined ? { node } : {}),
  };
}

/**
 * Why `shape` (asked at `priority`) waits: priority_conflict when releasing lower-priority allocations alone would
 * make it fit, else resource_competition; the holders in the way (see Ledger.inTheWay), plus the GPU users no
 * allocation accounts for when releasing every allocation would not be enough; the short dimensions; or the nodes
 * that could take it but cannot be reached, when no reachable node could.
 * Messages carry no free figures, so that they change only when the reason does.
 */
export function evaluateWait(ledger: WaitView, shape: Shape, priority: number, strategy: string, holderOf: (h: Holding, node?: string) => ConflictHolder = allocationHolder): WaitEvaluation {
  if (!ledger.knows(shape)) {
    // a request pinned to a node waits for that node (the cluster's capacity may be known without it)
    if (shape.node !== undefined) return { type: 'resource_competition', holders: [], resource: askedDims(shape).join(','), message: `waiting for node ${shape.node} to report its capacity` };
    return { type: 'resource_competition', holders: [], resource: unknownDims(shape, ledger).join(','), message: 'waiting for the monitor to report the node’s capacity' };
  }
  const w = ledger.inTheWay(shape, priority);
  if (!w.dims.length) return { type: 'resource_competition', holders: [], resource: '', message: `fits, but the ${strategy} strategy did not place it` };
  const short = w.dims.map((d) => describeShort(d, shape)).join('; ');
  if (w.unreachable) {
    return { type: 'resource_competition', holders: [], resource: w.dims.join(','), message: `${short}: no reachable node can take it (not reachable: ${w.unreachable.join(', ') || 'none'})` };
  }
  const holders: ConflictHolder[] = w.holders.map((h) => holderOf(h, w.node));
  if (!w.sufficient) holders.push(...w.foreign.map((u) => processHolder(u, w.node)));
  const lower = w.holders.filter((h) => h.priority < priority).length;
  const message = w.lowerOnly
    ? `${short}: blocked only by ${w.holders.length} lower-priority allocation(s)`
    : w.sufficient
      ? `${short}: ${w.holders.length} allocation(s) in the way (${lower} of lower priority)`
      : `${short}: does not fit even if every allocation were released${w.foreign.length ? ` (${w.foreign.length} GPU user(s) without an allocation)` : ''}`;
  return { type: w.lowerOnly ? 'priority_conflict' : 'resource_competition', holders, resource: w.dims.join(','), message };
}

/** Every dimension `shape` asks for. */
function askedDims(shape: Shape): string[] {
  const dims: string[] = [];
  if (shape.cpu > 0) dims.push('cpu');
  if (shape.memoryMiB > 0) dims.push('memory');
  if (shape.whole > 0 || shape.fracMiB > 0) dims.push('gpu');
  return dims;
}

function unknownDims(shape: Shape, ledger: WaitView): string[] {
  const cap = ledger.capacity;
  const dims: string[] = [];
  if (shape.cpu > 0 && cap.cpu === null) dims.push('cpu');
  if (shape.memoryMiB > 0 && cap.memoryMiB === null) dims.push('memory');
  if ((shape.whole > 0 || shape.fracMiB > 0) && cap.gpus === null) dims.push('gpu');
  return dims;
}

function describeShort(dim: 'cpu' | 'memory' | 'gpu', shape: Shape): string {
  if (dim === 'cpu') return `needs ${shape.cpu} millicores of cpu`;
  if (dim === 'memory') return `needs ${shape.memoryMiB} MiB of memory`;
  const of = shape.models ? ` of model ${modelsText(shape.models)}` : '';
  if (shape.fracMiB > 0) return `needs ${shape.fracMiB} MiB of one GPU${of}`;
  return `needs ${shape.whole} whole GPU(s)${of}`;
}
