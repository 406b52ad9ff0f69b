/**
 * The schedule_conflicts a node's ledger calls for (pure): reality — the node's latest inventory, or its silence —
 * disagreeing with the ledger. Keyed so that one conflict stands open per key (ConflictSchema.key):
 * - GPU users no allocation accounts for: `unmanaged:gpu:<i>` on the home node (the key the dashboard and stored
 *   conflicts know), `unmanaged:gpu:<i>@<node>` on the others; its request is the allocation holding that GPU, if any;
 * - processes of an allocation that should not be on a GPU any more: ended (`lease:<allocationId>`) or suspended by
 *   time-slicing (`overrun:<allocationId>`);
 * - a node that does not report: `unreachable:<node>`, its allocations the holders (kept, never freed for it);
 * - what a node reporting again may show (reconciliation): `missing:<node>:gpu:<i>`, an active allocation holds a GPU
 *   the node no longer reports; `overcommit:<node>`, its allocations hold more cpu or memory than it reports.
 * A node that is not reachable calls for nothing but `unreachable:<node>` (a pending one for nothing): what was open
 * about it stays as it was until it reports again (ScheduleConflicts keeps it).
 * `touches`: the conflict concerns an allocation (severity, conflicts.ts).
 */
import type { Allocation } from '../../shared/scheduler.ts';
import { allocationHolder, processHolder, type ConflictInit } from './conflicts.ts';
import type { GpuUsage } from './inventory.ts';
import type { Holding, Ledger } from './ledger.ts';

export type ScheduleConflictWant = Omit<ConflictInit, 'key' | 'severity'> & { touches: boolean };

/** Add what `l` calls for to `want`; `home`: it is the home node (unqualified unmanaged keys). */
export function nodeConflicts(l: Ledger, home: boolean, allocationOf: (id: string) => Allocation | undefined, want: Map<string, ScheduleConflictWant>): void {
  if (l.state === 'unreachable') {
    want.set(`unreachable:${l.node}`, unreachable(l));
    return;
  }
  if (l.state === 'pending') return;
  if (l.hasForeign) gpuUsers(l, home, allocationOf, want);
  if (l.absentHeld > 0) missing(l, want);
  overcommit(l, want);
}

function unreachable(l: Ledger): ScheduleConflictWant {
  const holders = [...l.holdingsList()].map((h) => allocationHolder(h, l.node));
  return {
    type: 'schedule_conflict',
    requestId: null,
    holders,
    resource: `node:${l.node}`,
    node: l.node,
    message: holders.length
      ? `node ${l.node} does not report: its ${holders.length} allocation(s) are kept and nothing new is placed there`
      : `node ${l.node} does not report: nothing is placed there`,
    touches: holders.length > 0,
  };
}

function gpuUsers(l: Ledger, home: boolean, allocationOf: (id: string) => Allocation | undefined, want: Map<string, ScheduleConflictWant>): void {
  const node = l.node;
  const byLease = new Map<string, GpuUsage[]>();
  const overrun = new Map<string, GpuUsage[]>();
  for (const s of l.slots()) {
    const unmanaged: GpuUsage[] = [];
    for (const u of s.foreign) {
      const a = u.allocationId === null ? undefined : allocationOf(u.allocationId);
      if (a && a.state !== 'active') push(byLease, a.id, u);
      // time-slicing suspended it, yet its processes still run on the GPU it gave up
      else if (a && a.suspendedAt !== undefined) push(overrun, a.id, u);
      else unmanaged.push(u);
    }
    if (!unmanaged.length) continue;
    const victim = s.wholeBy ?? s.shared.keys().next().value ?? null;
    const h = victim === null ? undefined : l.holding(victim);
    want.set(home ? `unmanaged:gpu:${s.index}` : `unmanaged:gpu:${s.index}@${node}`, {
      type: 'schedule_conflict',
      requestId: h?.requestId ?? null,
      holders: unmanaged.map((u) => processHolder(u, node)),
      resource: `gpu:${s.index}`,
      node,
      message: `${unmanaged.length} process(es)/container(s) use GPU ${s.index}${home ? '' : ` of node ${node}`} without an allocation${h ? `; allocation ${h.allocationId} holds it` : ''}`,
      touches: h !== undefined,
    });
  }
  // processes of an allocation that should not be on a GPU any more: suspended by time-slicing, or ended
  const stray: [string, Map<string, GpuUsage[]>, (a: Allocation) => string][] = [
    ['overrun', overrun, () => 'suspended by time-slicing'],
    ['lease', byLease, (a) => `${a.state}${a.state === 'expired' ? ' (lease expired)' : ''}`],
  ];
  for (const [prefix, byAllocation, what] of stray) {
    for (const [allocationId, usages] of byAllocation) {
      const a = allocationOf(allocationId)!;
      const gpus = [...new Set(usages.map((u) => u.gpuIndex))].sort((x, y) => x - y);
      want.set(`${prefix}:${allocationId}`, {
        type: 'schedule_conflict',
        requestId: a.requestId,
        holders: usages.map((u) => processHolder(u, node)),
        resource: gpus.map((g) => `gpu:${g}`).join(','),
        node,
        message: `allocation ${allocationId} is ${what(a)} but ${usages.length} of its process(es) still use GPU ${gpus.join(', ')}${prefix === 'overrun' ? ' (time-slice overrun)' : ''}`,
        touches: true,
      });
    }
  }
}

/** GPUs the node no longer reports that active allocations still hold (it came back with fewer, or others). */
function missing(l: Ledger, want: Map<string, ScheduleConflictWant>): void {
  for (const s of l.slots()) {
    if (s.present || (s.whole.size === 0 && s.shared.size === 0)) continue;
    const holders = [...s.whole.keys(), ...s.shared.keys()].map((id) => l.holding(id)).filter((h): h is Holding => h !== undefined);
    want.set(`missing:${l.node}:gpu:${s.index}`, {
      type: 'schedule_conflict',
      requestId: holders[0]?.requestId ?? null,
      holders: holders.map((h) => allocationHolder(h, l.node)),
      resource: `gpu:${s.index}`,
      node: l.node,
      message: `node ${l.node} no longer reports GPU ${s.index}; allocation(s) ${holders.map((h) => h.allocationId).join(', ')} hold it`,
      touches: true,
    });
  }
}

/** More cpu or memory booked than the node reports (it came back smaller, or the allocations were restored onto it). */
function overcommit(l: Ledger, want: Map<string, ScheduleConflictWant>): void {
  const cap = l.capacity;
  const used = l.used;
  const cpu = cap.cpu !== null && used.cpu > cap.cpu;
  const memory = cap.memoryMiB !== null && used.memoryMiB > cap.memoryMiB;
  if (!cpu && !memory) return;
  const holders: Holding[] = [];
  for (const h of l.holdingsList()) if ((cpu && h.shape.cpu > 0) || (memory && h.shape.memoryMiB > 0)) holders.push(h);
  const what: string[] = [];
  if (cpu) what.push(`${used.cpu} millicores of cpu (it reports ${cap.cpu})`);
  if (memory) what.push(`${used.memoryMiB} MiB of memory (it reports ${cap.memoryMiB})`);
  want.set(`overcommit:${l.node}`, {
    type: 'schedule_conflict',
    requestId: holders.length === 1 ? holders[0]!.requestId : null,
    holders: holders.map((h) => allocationHolder(h, l.node)),
    resource: [cpu ? 'cpu' : null, memory ? 'memory' : null].filter((d) => d !== null).join(','),
    node: l.node,
    message: `the allocations on node ${l.node} hold ${what.join(' and ')}`,
    touches: true,
  });
}

function push<K, V>(m: Map<K, V[]>, k: K, v: V): void {
  const list = m.get(k);
  if (list) list.push(v);
  else m.set(k, [v]);
}
