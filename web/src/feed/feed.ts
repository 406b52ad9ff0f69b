/**
 * The live feed: every pushed hint, conflict and scheduling change in words, newest first (a bounded list), and
 * the toasts for new conflicts and critical hints. Fed by the live connection's per-frame batches; a replay gap
 * shows as an entry of its own. Framework-free, time injected.
 */
import type { Envelope, ReplayGap } from '../../../shared/events.ts';
import type { HintEvent } from '../../../shared/hints.ts';
import type { ConflictChange, ConflictType, SchedulingChange } from '../../../shared/scheduler.ts';
import { formatClock, formatResources } from '../lib/format.ts';
import type { LiveSource } from '../live/source.ts';
import { conflictSubject, hintSubject, type Subject } from './subject.ts';

export type FeedType = 'hint' | 'conflict' | 'scheduling_update' | 'gap';

export interface FeedEntry {
  /** envelope id; a gap entry has none */
  id: number | null;
  /** a unique key (React, toasts) */
  key: string;
  ts: number;
  type: FeedType;
  /** the change or hint event kind, e.g. `conflict_opened` */
  kind: string;
  /** 0 for plain news, 1–5 as the server rates conflicts and hints */
  severity: number;
  title: string;
  detail: string;
  subject: Subject | null;
}

export interface Toast {
  entry: FeedEntry;
  /** epoch ms; null: stays until dismissed */
  expiresAt: number | null;
}

export interface FeedSnapshot {
  /** newest first */
  readonly entries: readonly FeedEntry[];
  /** newest last */
  readonly toasts: readonly Toast[];
  /** events received since the page opened (also those no longer in `entries`) */
  readonly received: number;
  readonly gaps: number;
}

export interface FeedDeps {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface FeedOptions {
  /** entries kept; default 300 */
  maxEntries?: number;
  /** toasts shown at once; default 4 */
  maxToasts?: number;
  /** how long a toast below `stickySeverity` stays; default 12 s */
  toastMs?: number;
  /** from this severity on a toast stays until dismissed, and hints toast at all; default 4 */
  stickySeverity?: number;
}

const CONFLICT_TITLE: Record<ConflictType, string> = {
  resource_competition: 'Resource competition',
  priority_conflict: 'Priority conflict',
  schedule_conflict: 'Schedule conflict',
};

export class FeedStore {
  private readonly opts: Required<FeedOptions>;
  private entries: FeedEntry[] = [];
  private toasts: Toast[] = [];
  private received = 0;
  private gaps = 0;
  private snapshot: FeedSnapshot;
  private readonly listeners = new Set<() => void>();
  private offs: (() => void)[] = [];
  private timer: unknown = null;
  private started = false;

  constructor(
    private readonly source: LiveSource,
    private readonly deps: FeedDeps,
    opts: FeedOptions = {},
  ) {
    this.opts = { maxEntries: 300, maxToasts: 4, toastMs: 12_000, stickySeverity: 4, ...opts };
    this.snapshot = this.build();
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    this.offs = [
      this.source.onEnvelopes('scheduling_update', (envs) => this.add(envs.map(schedulingEntry))),
      this.source.onEnvelopes('conflict', (envs) => this.add(envs.map(conflictEntry))),
      this.source.onEnvelopes('hint', (envs) => this.add(envs.map(hintEntry))),
      this.source.onGap((gap) => this.add([gapEntry(gap, this.deps.now(), ++this.gaps)])),
    ];
  }

  stop(): void {
    if (!this.started) return;
    this.started = false;
    for (const off of this.offs.splice(0)) off();
    if (this.timer !== null) this.deps.clearTimeout(this.timer);
    this.timer = null;
  }

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  getSnapshot = (): FeedSnapshot => this.snapshot;

  dismiss(key: string): void {
    const next = this.toasts.filter((t) => t.entry.key !== key);
    if (next.length === this.toasts.length) return;
    this.toasts = next;
    this.changed();
  }

  dismissAll(): void {
    if (this.toasts.length === 0) return;
    this.toasts = [];
    this.changed();
  }

  private add(list: FeedEntry[]): void {
    if (list.length === 0) return;
    const now = this.deps.now();
    for (const e of list) {
      if (e.id !== null) this.received++;
      if (this.toastWorthy(e)) {
        const sticky = e.severity >= this.opts.stickySeverity;
        this.toasts.push({ entry: e, expiresAt: sticky ? null : now + this.opts.toastMs });
      }
    }
    // too many: the oldest go, passing ones before sticky ones
    while (this.toasts.length > this.opts.maxToasts) {
      const i = this.toasts.findIndex((t) => t.expiresAt !== null);
      this.toasts.splice(i < 0 ? 0 : i, 1);
    }
    this.entries = [...list.reverse(), ...this.entries];
    if (this.entries.length > this.opts.maxEntries) this.entries.length = this.opts.maxEntries;
    this.changed();
  }

  private toastWorthy(e: FeedEntry): boolean {
    if (e.type === 'conflict') return e.kind === 'conflict_opened';
    if (e.type === 'hint') return e.kind === 'hint_raised' && e.severity >= this.opts.stickySeverity;
    return e.type === 'gap';
  }

  private expire(): void {
    this.timer = null;
    const now = this.deps.now();
    const next = this.toasts.filter((t) => t.expiresAt === null || t.expiresAt > now);
    if (next.length !== this.toasts.length) {
      this.toasts = next;
      this.changed();
    } else {
      this.schedule();
    }
  }

  private schedule(): void {
    if (this.timer !== null) this.deps.clearTimeout(this.timer);
    this.timer = null;
    const due = this.toasts.reduce<number | null>((m, t) => (t.expiresAt !== null && (m === null || t.expiresAt < m) ? t.expiresAt : m), null);
    if (due === null || !this.started) return;
    this.timer = this.deps.setTimeout(() => this.expire(), Math.max(0, due - this.deps.now()));
  }

  private changed(): void {
    this.snapshot = this.build();
    this.schedule();
    for (const l of this.listeners) l();
  }

  private build(): FeedSnapshot {
    return { entries: this.entries, toasts: [...this.toasts], received: this.received, gaps: this.gaps };
  }
}

// ---- events in words ----------------------------------------------------------------------------------------

function base(env: Envelope<'scheduling_update' | 'conflict' | 'hint'>, kind: string) {
  return { id: env.id, key: `e${env.id}`, ts: env.ts, kind };
}

const gpusOf = (ix: readonly number[]) => (ix.length === 0 ? 'no GPU' : `GPU ${ix.join(', ')}`);

export function schedulingEntry(env: Envelope<'scheduling_update'>): FeedEntry {
  const c: SchedulingChange = env.data;
  const b = { ...base(env, c.kind), type: 'scheduling_update' as const, severity: 0 };
  switch (c.kind) {
    case 'request_queued':
      return { ...b, title: `${c.request.owner}'s request waits`, detail: formatResources(c.request.resources), subject: { kind: 'request', id: c.request.id } };
    case 'request_granted':
      return { ...b, title: `${c.request.owner}'s request granted`, detail: formatResources(c.request.resources), subject: { kind: 'request', id: c.request.id } };
    case 'request_cancelled':
      return { ...b, title: `${c.request.owner}'s request cancelled`, detail: formatResources(c.request.resources), subject: { kind: 'request', id: c.request.id } };
    case 'allocation_granted':
      return { ...b, title: `Allocated ${gpusOf(c.allocation.gpuIndices)}`, detail: `${formatResources(c.allocation.resources)}; lease until ${formatClock(c.allocation.leaseExpiresAt)}`, subject: { kind: 'allocation', id: c.allocation.id } };
    case 'allocation_renewed':
      return { ...b, title: `Lease renewed on ${gpusOf(c.allocation.gpuIndices)}`, detail: `until ${formatClock(c.allocation.leaseExpiresAt)}`, subject: { kind: 'allocation', id: c.allocation.id } };
    case 'allocation_released':
      return { ...b, title: `${c.request.owner} released ${gpusOf(c.allocation.gpuIndices)}`, detail: formatResources(c.allocation.resources), subject: { kind: 'allocation', id: c.allocation.id } };
    case 'allocation_expired':
      return { ...b, severity: 2, title: `${c.request.owner}'s lease on ${gpusOf(c.allocation.gpuIndices)} expired`, detail: formatResources(c.allocation.resources), subject: { kind: 'allocation', id: c.allocation.id } };
    case 'allocation_preempted':
      return { ...b, severity: 3, title: `${c.request.owner} preempted from ${gpusOf(c.allocation.gpuIndices)}`, detail: c.allocation.preemptedFor ? `for request ${c.allocation.preemptedFor.slice(0, 8)}` : formatResources(c.allocation.resources), subject: { kind: 'allocation', id: c.allocation.id } };
    case 'allocation_preempting':
      return { ...b, severity: 3, title: `Preemption notice on ${gpusOf(c.allocation.gpuIndices)}`, detail: c.allocation.preemptAt ? `resources taken at ${formatClock(c.allocation.preemptAt)}` : 'resources taken after the grace period', subject: { kind: 'allocation', id: c.allocation.id } };
    case 'allocation_suspended':
      return { ...b, title: `Suspended on ${gpusOf(c.allocation.gpuIndices)}`, detail: 'time-slicing rotation', subject: { kind: 'allocation', id: c.allocation.id } };
    case 'allocation_resumed':
      return { ...b, title: `Resumed on ${gpusOf(c.allocation.gpuIndices)}`, detail: 'time-slicing rotation', subject: { kind: 'allocation', id: c.allocation.id } };
    case 'allocation_flagged':
      return c.allocation.unreachableSince != null
        ? { ...b, severity: 3, title: `Node ${c.allocation.node} unreachable: allocation on ${gpusOf(c.allocation.gpuIndices)} kept`, detail: `since ${formatClock(c.allocation.unreachableSince)}`, subject: { kind: 'allocation', id: c.allocation.id } }
        : { ...b, title: `Node ${c.allocation.node} reachable again`, detail: gpusOf(c.allocation.gpuIndices), subject: { kind: 'allocation', id: c.allocation.id } };
    case 'strategy_changed':
      return { ...b, title: `Strategy: ${c.previous} → ${c.strategy}`, detail: 'takes effect at the next decision', subject: null };
    default: {
      const kind = (c as { kind: string }).kind;
      return { ...b, title: kind.replace(/_/g, ' '), detail: '', subject: null };
    }
  }
}

export function conflictEntry(env: Envelope<'conflict'>): FeedEntry {
  const c: ConflictChange = env.data;
  const what = CONFLICT_TITLE[c.conflict.type] ?? c.conflict.type;
  const verb = c.kind === 'conflict_opened' ? 'opened' : c.kind === 'conflict_resolved' ? `resolved (${c.conflict.resolution ?? 'resolved'})` : 'updated';
  return {
    ...base(env, c.kind),
    type: 'conflict',
    severity: c.kind === 'conflict_resolved' ? 0 : c.conflict.severity,
    title: `${what} ${verb}`,
    detail: c.conflict.message,
    subject: conflictSubject(c.conflict),
  };
}

export function hintEntry(env: Envelope<'hint'>): FeedEntry {
  const e: HintEvent = env.data;
  const cleared = e.kind === 'hint_cleared';
  return {
    ...base(env, e.kind),
    type: 'hint',
    severity: cleared ? 0 : e.hint.severity,
    title: cleared ? `Cleared: ${e.hint.title}` : e.hint.title,
    detail: e.hint.message,
    subject: hintSubject(e.hint),
  };
}

function gapEntry(gap: ReplayGap, now: number, n: number): FeedEntry {
  const lost = gap.oldestId !== null ? Math.max(0, gap.oldestId - gap.lastEventId - 1) : null;
  return {
    id: null,
    key: `gap${n}`,
    ts: now,
    type: 'gap',
    kind: 'replay_gap',
    severity: 3,
    title: 'Events were missed',
    detail:
      gap.reason === 'ahead_of_server'
        ? 'the server restarted with fewer events than this page saw; the views were reloaded'
        : `the server no longer had ${lost === null ? 'some events' : `up to ${lost} events`} after #${gap.lastEventId}; the views were reloaded`,
    subject: null,
  };
}
