/**
 * An agent's inventory against the book: what the hub does with each worker an agent reports at a connection (after
 * a reconnect, a restart of the agent or of the hub), and with each worker the book has on that node that the agent
 * does not report. Pure: the worker service applies the decisions.
 *
 *   reported running, live in the book on that node        ──► adopt (its port and ref, when the book has none yet);
 *                                                              stop again when the book is stopping it
 *   reported ended (its end not acknowledged), live there   ──► its exit, as if reported on time
 *   reported running, unknown, ended or elsewhere in the book ──► stop it (nothing accounts for it)
 *   live in the book there, started, not reported          ──► lost (failed: the agent no longer has it)
 *
 * A worker the book has as starting without a ref (its start is under way, or its ack was lost) is not lost: its
 * start decides. An unreachable node's workers are not reconciled until its agent reports (they stay as they are).
 */
import type { InventoryItem, AgentRunning } from '../../../shared/agent-workers.ts';
import type { WorkerRecord } from '../../../shared/workers.ts';
import { LIVE } from './book.ts';

export type ReconcileAction =
  | { kind: 'adopt'; id: string; running: AgentRunning }
  | { kind: 'exited'; id: string; exit: { code: number | null; signal: string | null }; lastLines: string[] }
  | { kind: 'stop'; id: string; backend: InventoryItem['backend']; why: string }
  | { kind: 'lost'; id: string };

/** Whether the book has this worker live on `node` (a record without a node runs on the hub's own). */
function liveOn(r: WorkerRecord | undefined, node: string): boolean {
  return !!r && r.worker.node === node && LIVE.has(r.worker.state);
}

export function reconcileInventory(node: string, book: (id: string) => WorkerRecord | undefined, onNode: readonly WorkerRecord[], items: readonly InventoryItem[]): ReconcileAction[] {
  const out: ReconcileAction[] = [];
  const reported = new Set<string>();
  for (const item of items) {
    const id = item.workerId;
    reported.add(id);
    const r = book(id);
    if (!r || !liveOn(r, node)) {
      if (item.exit !== null) continue;
      const why = !r ? 'unknown to the hub'
        : r.worker.node !== node ? `the hub has it on ${r.worker.node === null ? 'no node' : `node ${r.worker.node}`}`
          : `it is ${r.worker.state} in the hub's book`;
      out.push({ kind: 'stop', id, backend: item.backend, why });
      continue;
    }
    if (item.exit !== null) {
      out.push({ kind: 'exited', id, exit: item.exit, lastLines: item.lastLines });
      continue;
    }
    out.push({ kind: 'adopt', id, running: item.running });
    if (r.stopping) out.push({ kind: 'stop', id, backend: item.backend, why: r.worker.why ?? `being ${r.stopping}` });
  }
  for (const r of onNode) {
    if (!liveOn(r, node) || reported.has(r.worker.id) || r.ref === null) continue;
    out.push({ kind: 'lost', id: r.worker.id });
  }
  return out;
}
