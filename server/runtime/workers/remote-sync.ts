/**
 * What agents report about the workers on their nodes, taken into the book (the sink of the agents' worker channel,
 * remote.ts): an exit reported by `worker_state` ends the worker as a local exit would (its last lines kept); a
 * `started` report of a worker the book does not have live on that node is stopped (its start's ack was lost and
 * the hub gave up on it); an inventory is squared with the book (server/workloads/workers/reconcile.ts). Each
 * resolves once its changes are stored, so the agent's report is acknowledged only then.
 */
import type { AgentWorkerState, WorkerInventory } from '../../../shared/agent-workers.ts';
import type { Logger } from '../../log.ts';
import { LIVE, type WorkerBook } from '../../workloads/workers/book.ts';
import { reconcileInventory } from '../../workloads/workers/reconcile.ts';
import type { Exit } from './backend.ts';
import type { AgentWorkerSink, RemoteBackends } from './remote.ts';

export interface RemoteSyncParts {
  book: WorkerBook;
  remote: RemoteBackends;
  log: Logger;
  graceMs: number;
  /** a worker's exit, as the service records it (and releases its allocation) */
  exit(id: string, exit: Exit): Promise<void>;
  /** resolves once every change so far is stored */
  committed(): Promise<void>;
}

export class RemoteSync implements AgentWorkerSink {
  constructor(private readonly p: RemoteSyncParts) {}

  async state(node: string, msg: AgentWorkerState): Promise<void> {
    const { book, remote } = this.p;
    const r = book.get(msg.workerId);
    const here = !!r && r.worker.node === node && LIVE.has(r.worker.state);
    const backend = remote.of(node, msg.backend);
    if (msg.state === 'started') {
      if (!here) this.stop(node, msg.backend, msg.workerId, 'it is not live on that node in the hub’s book');
    } else if (here) {
      backend.reportExit(msg.workerId, msg.exit, msg.lastLines);
      await this.p.exit(msg.workerId, msg.exit);
    }
    await this.p.committed();
  }

  async inventory(node: string, msg: WorkerInventory): Promise<void> {
    const { book, remote, log } = this.p;
    const onNode = book.all().filter((r) => r.worker.node === node);
    const host = remote.channel.hostOf(node) ?? node;
    const backendOf = new Map(msg.workers.map((w) => [w.workerId, w.backend]));
    for (const a of reconcileInventory(node, (id) => book.get(id), onNode, msg.workers)) {
      const r = book.get(a.id);
      switch (a.kind) {
        case 'adopt':
          if (r && r.ref === null) book.started(a.id, { host, ...a.running });
          break;
        case 'exited':
          remote.of(node, backendOf.get(a.id) ?? r!.worker.backend).reportExit(a.id, a.exit, a.lastLines);
          await this.p.exit(a.id, a.exit);
          break;
        case 'stop':
          this.stop(node, a.backend, a.id, a.why);
          break;
        case 'lost':
          log.warn({ node, worker: a.id }, 'a worker the book has on this node is not in its agent’s inventory: lost');
          remote.of(node, r!.worker.backend).reportExit(a.id, { code: null, signal: null }, [`lost: the agent of node ${node} no longer runs it (its node restarted, or it ended unseen)`]);
          await this.p.exit(a.id, { code: null, signal: null });
          break;
      }
    }
    await this.p.committed();
  }

  private stop(node: string, kind: Parameters<RemoteBackends['of']>[1], id: string, why: string): void {
    this.p.log.warn({ node, worker: id, why }, 'stopping a worker an agent runs: ' + why);
    void this.p.remote.of(node, kind).stop(id, this.p.graceMs).catch((err: unknown) => this.p.log.warn({ err, node, worker: id }, 'could not stop it'));
  }
}
