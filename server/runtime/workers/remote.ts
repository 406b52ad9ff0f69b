/**
 * Workers on other nodes: the `RemoteBackend` keeps the Backend contract by asking the agent of its node (over the
 * agents' namespace, shared/agent-workers.ts) to start, stop, pause and resume a worker, or for its last lines.
 * The agent runs it on its own local (or docker) backend. What the worker does afterwards — its exit — the agent
 * reports as `worker_state`, which the worker service takes (remote-sync.ts) and hands to this backend's exit
 * listeners; its last lines come with it.
 *
 * `AgentWorkerChannel` is what the hub's agents' side (server/runtime/agents/worker-channel.ts) gives the workers:
 * which nodes have an agent that runs workers, where their workers are reached, and a call to one of them.
 */
import type { AgentWorkerState, WorkerCall, WorkerCalls, WorkerInventory } from '../../../shared/agent-workers.ts';
import type { WorkerBackend } from '../../../shared/workers.ts';
import type { Backend, Exit, ExitListener, Launch, Running } from './backend.ts';

/** What the agents report about their workers, taken by the worker service; each resolves once it is stored. */
export interface AgentWorkerSink {
  state(node: string, msg: AgentWorkerState): Promise<void>;
  inventory(node: string, msg: WorkerInventory): Promise<void>;
}

export interface AgentWorkerChannel {
  /** the nodes with a connected agent that runs workers */
  workerNodes(): string[];
  /** the backends the connected agent of `node` runs workers with ([] when none is connected) */
  backendsOf(node: string): WorkerBackend[];
  /** where `node`'s workers are reached: its agent's advertised host, or the address it connects from */
  hostOf(node: string): string | null;
  /** a call to the connected agent of `node`: its ack; rejects when none is connected or it does not answer in time */
  call<K extends WorkerCall>(node: string, event: K, msg: WorkerCalls[K][0]): Promise<WorkerCalls[K][1]>;
  /** Where the agents' reports go; until a sink is attached they wait. */
  attach(sink: AgentWorkerSink): void;
}

export class RemoteBackend implements Backend {
  private readonly listeners = new Set<ExitListener>();
  /** the last lines each ended worker reported, for logs() once it has gone */
  private readonly lastLines = new Map<string, string[]>();

  constructor(readonly node: string, readonly kind: WorkerBackend, private readonly channel: AgentWorkerChannel) {}

  /** Its agent starts it; `launch.port` 0: the agent picks one. Throws the agent's refusal, or when no agent answers. */
  async start(launch: Launch): Promise<Running> {
    if (!this.channel.backendsOf(this.node).includes(this.kind)) {
      throw new Error(`node ${this.node} has no connected agent that runs ${this.kind} workers`);
    }
    this.lastLines.delete(launch.id);
    const ack = await this.channel.call(this.node, 'worker_start', {
      workerId: launch.id, group: launch.group, replica: launch.replica, backend: this.kind, spec: launch.spec,
      env: launch.env, gpus: launch.gpus, port: launch.port,
    });
    if (!ack.ok) throw new Error(`the agent of ${this.node}: ${ack.error}`);
    return { id: launch.id, host: this.channel.hostOf(this.node) ?? this.node, ...ack.running };
  }

  /**
   * Its agent is told to stop it; resolves once the agent has the order (its exit arrives as worker_state). With no
   * agent connected the order waits: the worker is stopped when the agent's inventory next shows it.
   */
  async stop(id: string, graceMs: number): Promise<void> {
    if (!this.channel.backendsOf(this.node).length) return;
    const ack = await this.channel.call(this.node, 'worker_stop', { workerId: id, graceMs }).catch(() => null);
    if (ack && !ack.ok) throw new Error(`the agent of ${this.node} could not stop ${id}: ${ack.error}`);
  }

  async pause(id: string): Promise<void> {
    await this.signal('worker_pause', id);
  }

  async resume(id: string): Promise<void> {
    await this.signal('worker_resume', id);
  }

  /** Nothing to take back here: the agent's inventory says what runs on its node (remote-sync.ts). */
  async adopt(known: readonly Running[]): Promise<{ alive: Running[]; strangers: Running[] }> {
    return { alive: [...known], strangers: [] };
  }

  onExit(listener: ExitListener): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  /** An exit the agent reported (the sink calls it): kept lines first, then the listeners. */
  reportExit(id: string, exit: Exit, lastLines: string[]): void {
    this.lastLines.set(id, lastLines);
    for (const l of [...this.listeners]) l(id, exit);
  }

  async logs(id: string, tail: number): Promise<string[]> {
    const kept = this.lastLines.get(id);
    if (kept) return kept.slice(-tail);
    const ack = await this.channel.call(this.node, 'worker_logs', { workerId: id, tail });
    if (!ack.ok) throw new Error(`the agent of ${this.node}: ${ack.error}`);
    return ack.lines;
  }

  async close(): Promise<void> {
    this.listeners.clear();
  }

  private async signal(event: 'worker_pause' | 'worker_resume', id: string): Promise<void> {
    const ack = await this.channel.call(this.node, event, { workerId: id });
    if (!ack.ok) throw new Error(`the agent of ${this.node}: ${ack.error}`);
  }
}

/** One RemoteBackend per node and kind, made when first needed; their exits go to one set of listeners. */
export class RemoteBackends {
  private readonly made = new Map<string, RemoteBackend>();
  private readonly listeners = new Set<ExitListener>();

  constructor(readonly channel: AgentWorkerChannel) {}

  of(node: string, kind: WorkerBackend): RemoteBackend {
    const key = `${kind}@${node}`;
    let b = this.made.get(key);
    if (!b) {
      b = new RemoteBackend(node, kind, this.channel);
      b.onExit((id, exit) => {
        for (const l of [...this.listeners]) l(id, exit);
      });
      this.made.set(key, b);
    }
    return b;
  }

  onExit(listener: ExitListener): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }
}
