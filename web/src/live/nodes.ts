/**
 * The latest resource_status of every node that publishes one, and which of them is the home node: the node the
 * server says it is (GET /api/health). Until the server has said, the node of the first snapshot stands in (with
 * one node they are the same). The overview, the charts and the shell show the home node; the other nodes'
 * snapshots are kept for a view of the nodes.
 */
import type { Envelope } from '../../../shared/events.ts';

export type StatusEnvelope = Envelope<'resource_status'>;

/** What a view of the nodes reads; a new object after each change (useSyncExternalStore compares identities). */
export interface NodesSnapshot {
  /** the node this server is; null before the server or a first snapshot said so */
  readonly home: string | null;
  /** whether `home` is the server's answer (false: the node of the first snapshot, standing in) */
  readonly homeConfirmed: boolean;
  /** each node's latest resource_status, the home node's included, by node name */
  readonly latestByNode: ReadonlyMap<string, StatusEnvelope>;
}

export class NodeStatuses {
  private home: string | null = null;
  private confirmed = false;
  private readonly byNode = new Map<string, StatusEnvelope>();
  private view: NodesSnapshot = { home: null, homeConfirmed: false, latestByNode: new Map() };
  private changed = false;

  get homeConfirmed(): boolean {
    return this.confirmed;
  }

  latestOf(node: string): StatusEnvelope | undefined {
    return this.byNode.get(node);
  }

  /** Keep a node's newest snapshot. @returns whether it is the home node's (the first snapshot's node stands in). */
  put(env: StatusEnvelope): boolean {
    this.home ??= env.data.node;
    this.byNode.set(env.data.node, env);
    this.changed = true;
    return env.data.node === this.home;
  }

  /**
   * The server said which node it is. @returns the home node's latest snapshot when the home node changed (the
   * first snapshot was another node's), null when it has none yet, undefined when nothing changed
   */
  confirmHome(node: string): StatusEnvelope | null | undefined {
    const before = this.home;
    this.home = node;
    if (!this.confirmed || before !== node) this.changed = true;
    this.confirmed = true;
    if (before === null || before === node) return undefined;
    return this.byNode.get(node) ?? null;
  }

  /** Make a new snapshot when something changed since the last one. @returns whether it did */
  refresh(): boolean {
    if (!this.changed) return false;
    this.changed = false;
    this.view = { home: this.home, homeConfirmed: this.confirmed, latestByNode: new Map(this.byNode) };
    return true;
  }

  /** The snapshot of the last refresh: stable between frames. */
  get snapshot(): NodesSnapshot {
    return this.view;
  }
}
