/** Nodes for the dashboard's tests: GET /api/nodes answers and a NodesApi double. */
import type { NodeView, NodesResponse } from '../../shared/agents.ts';
import type { ResourceStatus } from '../../shared/resources.ts';
import type { NodesSnapshot } from '../../web/src/live/nodes.ts';
import type { NodesApi } from '../../web/src/nodes/api.ts';
import { envelope } from './fakes.ts';

export function nodeView(name: string, over: Partial<NodeView> = {}): NodeView {
  return {
    name, local: false, status: 'reachable', lastSeenAt: 1_700_000_000_000, connected: true,
    capacity: { cpu: 8000, memoryMiB: 32_768, gpus: 2 },
    allocated: { cpu: 1500, memoryMiB: 4096, gpus: 1, gpuMemMiB: 0, allocations: 1 },
    ...over,
  };
}

/** Answers with `nodes` (or what `answer` gives); counts the calls. */
export class FakeNodesApi implements NodesApi {
  calls = 0;
  nodes: NodeView[] = [];
  answer: () => Promise<NodesResponse> = () => Promise.resolve({ nodes: this.nodes });
  list(): Promise<NodesResponse> {
    this.calls++;
    return this.answer();
  }
}

/** The live source's view of the nodes: each status with the envelope id given, `home` the server's node. */
export function nodesSnapshot(home: string, statuses: [number, ResourceStatus][]): NodesSnapshot {
  return { home, homeConfirmed: true, latestByNode: new Map(statuses.map(([id, s]) => [s.node, envelope(id, s)])) };
}
