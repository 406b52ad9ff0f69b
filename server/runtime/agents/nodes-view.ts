/**
 * GET /api/nodes: every node the hub schedules on — its own (monitored in its process) first, then the agents'
 * nodes by name — with what the engine books there and what the registry knows of its agent. A node an agent has
 * joined with but whose first snapshot has not been taken yet is listed too (unreachable, no capacity).
 */
import type { NodesResponse, NodeView } from '../../../shared/agents.ts';
import type { SchedulerEngine } from '../../scheduler/engine.ts';
import type { NodeRegistry } from './registry.ts';

export interface NodesViewSources {
  engine: Pick<SchedulerEngine, 'nodeViews'>;
  registry: NodeRegistry | null;
  /** the hub's own node and when it was last sampled; null: the hub is not a node (--no-local-node) */
  local: { name: string; sampledAt: () => number | null } | null;
}

export function nodesView(o: NodesViewSources): NodesResponse {
  const fromEngine = new Map(o.engine.nodeViews().map((v) => [v.name, v]));
  const names = new Set<string>([...fromEngine.keys(), ...(o.registry?.all().map((n) => n.name) ?? [])]);
  const nodes: NodeView[] = [];
  for (const name of names) {
    const booked = fromEngine.get(name);
    const local = o.local?.name === name;
    const agent = local ? undefined : o.registry?.get(name);
    if (!local && !agent) continue;
    const reachable = local ? booked?.state !== 'unreachable' : agent!.state === 'reachable';
    nodes.push({
      name, local,
      status: reachable ? 'reachable' : 'unreachable',
      lastSeenAt: local ? o.local!.sampledAt() : agent!.lastSeenAt,
      connected: local ? true : agent!.connected,
      capacity: { cpu: booked?.capacity.cpu ?? null, memoryMiB: booked?.capacity.memoryMiB ?? null, gpus: booked?.capacity.gpus ?? 0 },
      allocated: booked?.allocated ?? { cpu: 0, memoryMiB: 0, gpus: 0, gpuMemMiB: 0, allocations: 0 },
    });
  }
  return { nodes: nodes.sort((a, b) => (a.local !== b.local ? (a.local ? -1 : 1) : a.name < b.name ? -1 : a.name > b.name ? 1 : 0)) };
}
