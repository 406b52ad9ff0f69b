/**
 * The hub's nodes beside its own: for each agent's node, when it last reported, whether its agent is connected, the
 * boot and sequence number of its last snapshot, and its latest snapshot. A node that has not reported for
 * `unreachableAfterMs` — since its last snapshot, or since the hub started for a node known only from restored
 * allocations — is declared unreachable to the engine (its allocations flagged, a conflict opened; never freed);
 * its next snapshot makes it reachable again and the engine reconciles. A disconnect alone changes nothing: agents
 * reconnect; a `bye` (the agent stopped cleanly) makes it unreachable at once.
 */
import type { ResourceStatus } from '../../../shared/resources.ts';
import type { Clock, Timer } from '../../clock.ts';
import type { Logger } from '../../log.ts';
import type { SchedulerEngine } from '../../scheduler/engine.ts';

export interface AgentNode {
  name: string;
  /** when its last snapshot arrived (the hub's clock); null: none since the hub started */
  lastSeenAt: number | null;
  connected: boolean;
  /** pending: known (from restored allocations) but not seen since the hub started */
  state: 'pending' | 'reachable' | 'unreachable';
  bootId: string | null;
  version: string | null;
  /** the highest seq acknowledged for its current boot */
  lastSeq: number | null;
  latest: ResourceStatus | null;
}

export interface NodeRegistryOptions {
  engine: Pick<SchedulerEngine, 'setNodeReachable' | 'nodes'>;
  clock: Clock;
  log: Logger;
  unreachableAfterMs: number;
  /** the hub's own node (not an agent's) */
  localNode: string | null;
}

export class NodeRegistry {
  private readonly nodes = new Map<string, AgentNode>();
  private timer: Timer | null = null;
  private readonly startedAt: number;

  constructor(private readonly o: NodeRegistryOptions) {
    this.startedAt = o.clock.now();
  }

  /** Nodes known from restored allocations wait for their agents (pending) for unreachableAfterMs; then the checks. */
  start(): void {
    for (const name of this.o.engine.nodes()) if (name !== this.o.localNode) this.entry(name);
    this.schedule();
  }

  stop(): void {
    this.timer?.cancel();
    this.timer = null;
  }

  get(name: string): AgentNode | undefined {
    return this.nodes.get(name);
  }

  all(): AgentNode[] {
    return [...this.nodes.values()];
  }

  /** An agent connected: the seq its boot has been acknowledged up to (null: a new boot, send from the first). */
  connected(name: string, bootId: string, version: string): number | null {
    const n = this.entry(name);
    if (n.bootId !== bootId) Object.assign(n, { bootId, lastSeq: null });
    Object.assign(n, { connected: true, version });
    return n.lastSeq;
  }

  disconnected(name: string, bootId: string): void {
    const n = this.nodes.get(name);
    if (n && n.bootId === bootId) n.connected = false;
  }

  /** A snapshot of this boot was taken (the engine has it): an unreachable node is reachable again. */
  seen(name: string, seq: number, status: ResourceStatus): void {
    const n = this.entry(name);
    Object.assign(n, { lastSeenAt: this.o.clock.now(), lastSeq: seq, latest: status });
    const was = n.state;
    n.state = 'reachable';
    // a pending node becomes reachable with its snapshot in the engine; an unreachable one is declared back
    if (was === 'unreachable') this.declare(n, true);
  }

  /** Whether a snapshot of this boot and seq was taken already (a resend after a lost ack). */
  taken(name: string, bootId: string, seq: number): boolean {
    const n = this.nodes.get(name);
    return !!n && n.bootId === bootId && n.lastSeq !== null && seq <= n.lastSeq;
  }

  /** The agent said bye: its node is unreachable now (its allocations stay, flagged). */
  left(name: string): void {
    const n = this.nodes.get(name);
    if (!n) return;
    n.connected = false;
    if (n.state === 'reachable') this.unreachable(n);
  }

  /** One check: a node silent for too long (a pending one: since the hub started) becomes unreachable. */
  check(): void {
    const now = this.o.clock.now();
    for (const n of this.nodes.values()) {
      if (n.state === 'unreachable') continue;
      if (now - (n.lastSeenAt ?? this.startedAt) >= this.o.unreachableAfterMs) this.unreachable(n);
    }
  }

  private unreachable(n: AgentNode): void {
    n.state = 'unreachable';
    this.declare(n, false);
  }

  private entry(name: string): AgentNode {
    let n = this.nodes.get(name);
    if (!n) {
      n = { name, lastSeenAt: null, connected: false, state: 'pending', bootId: null, version: null, lastSeq: null, latest: null };
      this.nodes.set(name, n);
    }
    return n;
  }

  private declare(n: AgentNode, reachable: boolean): void {
    this.o.log[reachable ? 'info' : 'warn']({ node: n.name }, reachable ? 'node reachable again' : 'node unreachable: its agent stopped reporting');
    if (!this.o.engine.nodes().includes(n.name)) return;
    try {
      this.o.engine.setNodeReachable(n.name, reachable);
    } catch (err) {
      this.o.log.warn({ err, node: n.name }, 'could not change a node’s reachability');
    }
  }

  private schedule(): void {
    const every = Math.max(100, Math.min(1000, Math.floor(this.o.unreachableAfterMs / 4)));
    this.timer = this.o.clock.setTimeout(() => {
      this.check();
      this.schedule();
    }, every);
  }
}
