/**
 * The nodes as GET /api/nodes lists them (reachability, last seen, capacity, allocated), for the views that show
 * several nodes. Nothing is pushed when a node becomes unreachable (the hub decides it when an agent stays silent),
 * so the list is read while a view watches it: at once, then every `pollMs`; and again (at most once per
 * `minIntervalMs`) when a snapshot arrives from a node the last answer did not list or listed as unreachable, so a
 * node that joins or comes back shows at once. Framework-free (React reads it through useSyncExternalStore), time
 * injected.
 */
import type { NodeView, NodesResponse } from '../../../shared/agents.ts';
import { errorMessage } from '../lib/api.ts';
import { ExternalStore } from '../lib/external-store.ts';
import { Reread } from '../lib/reread.ts';
import type { Timers } from '../lib/timers.ts';
import type { LiveSource } from '../live/source.ts';
import type { NodesApi } from './api.ts';

export interface NodeListSnapshot {
  /** the last answer's nodes, in its order; null before the first */
  readonly views: readonly NodeView[] | null;
  /** the last read failed with this (the last answer stays) */
  readonly error: string | null;
  readonly version: number;
}

export interface NodesDeps extends Timers {
  api: NodesApi;
}

export interface NodesStoreOptions {
  /** read again this often while watched; default 5 s */
  pollMs?: number;
  /** at most one read per this interval when snapshots ask for one; default 1 s */
  minIntervalMs?: number;
}

export class NodesStore extends ExternalStore<NodeListSnapshot> {
  private views: NodeView[] | null = null;
  private error: string | null = null;
  private started = false;
  private watchers = 0;
  private pollTimer: unknown = null;
  private offNodes: (() => void) | null = null;
  /** each node's latest envelope id when the last read began: a newer one of an unlisted or unreachable node asks again */
  private readonly idsAtRead = new Map<string, number>();
  private readonly reread: Reread<NodesResponse>;
  private readonly pollMs: number;

  constructor(
    private readonly source: LiveSource,
    private readonly deps: NodesDeps,
    opts: NodesStoreOptions = {},
  ) {
    super();
    this.pollMs = opts.pollMs ?? 5000;
    this.reread = new Reread(deps, {
      minIntervalMs: opts.minIntervalMs ?? 1000,
      may: () => this.started && this.watchers > 0,
      read: () => {
        this.idsAtRead.clear();
        for (const [name, env] of this.source.getNodes().latestByNode) this.idsAtRead.set(name, env.id);
        return this.deps.api.list();
      },
      answer: (res) => {
        this.views = Array.isArray(res?.nodes) ? res.nodes : [];
        this.error = null;
        this.changed();
        this.schedulePoll();
      },
      failed: (err) => {
        this.error = errorMessage(err);
        this.changed();
        this.schedulePoll();
      },
    });
  }

  /** Follow the live snapshots. Cheap: the API is asked only while watched. */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.offNodes = this.source.subscribeNodes(() => this.onStatuses());
    if (this.watchers > 0) this.reread.ask();
  }

  stop(): void {
    if (!this.started) return;
    this.started = false;
    this.offNodes?.();
    this.offNodes = null;
    this.clearPoll();
    this.reread.cancel();
  }

  /** A view shows the nodes: read now and every `pollMs` until released. Returns the release. */
  watch(): () => void {
    this.watchers++;
    if (this.watchers === 1) this.reread.ask();
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.watchers--;
      if (this.watchers === 0) {
        this.clearPoll();
        this.reread.pause();
      }
    };
  }

  protected build(): NodeListSnapshot {
    return { views: this.views, error: this.error, version: this.version };
  }

  /** A node's snapshot arrived: read again if the last answer did not know the node or said it was unreachable. */
  private onStatuses(): void {
    if (this.watchers === 0 || this.views === null) return;
    for (const [name, env] of this.source.getNodes().latestByNode) {
      if (this.idsAtRead.get(name) === env.id) continue;
      const view = this.views.find((v) => v.name === name);
      if (!view || view.status === 'unreachable') {
        this.reread.ask();
        return;
      }
    }
  }

  private schedulePoll(): void {
    this.clearPoll();
    if (!this.started || this.watchers === 0) return;
    this.pollTimer = this.deps.setTimeout(() => {
      this.pollTimer = null;
      this.reread.ask();
    }, this.pollMs);
  }

  private clearPoll(): void {
    if (this.pollTimer === null) return;
    this.deps.clearTimeout(this.pollTimer);
    this.pollTimer = null;
  }
}
