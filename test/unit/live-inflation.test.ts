/**
 * The live cluster's inflation experiment (server/sim/live-inflation.ts) on a cluster given as the engine shows it:
 * which nodes count, a request in the experiment's units, the line of the strategy in force, and the bound on draws.
 */
import { describe, expect, it } from 'vitest';
import type { Request, Resources } from '../../shared/scheduler.ts';
import { InflationResultSchema } from '../../shared/strategy.ts';
import type { NodeView } from '../../server/scheduler/node-views.ts';
import { currentPlacement, liveInflation, liveNodes, MAX_PODS, requestPod, type LiveCluster } from '../../server/sim/live-inflation.ts';

function cluster(nodes: { name: string; gpus: number; state?: NodeView['state']; cpu?: number | null; gpuMiB?: number }[]): LiveCluster {
  return {
    nodeViews: () => nodes.map((n) => ({
      name: n.name, state: n.state ?? 'reachable', unreachableSince: null, capacity: { cpu: n.cpu === undefined ? 32_000 : n.cpu, memoryMiB: 131_072, gpus: n.gpus },
      allocated: { cpu: 0, memoryMiB: 0, gpus: 0, gpuMemMiB: 0, allocations: 0 },
    })),
    free: (name) => {
      const n = nodes.find((x) => x.name === name)!;
      const gpus = Array.from({ length: n.gpus }, (_, index) => ({ index, name: 'GPU', memoryMiB: n.gpuMiB ?? 16_384, freeMiB: 0, wholeFree: false, available: index !== 3, allocations: 1, foreign: 0 }));
      return { cpu: 0, memoryMiB: 0, gpus };
    },
  };
}

const request = (i: number, resources: Resources): Request => ({
  id: `r${i}`, owner: 'o', priority: 0, preemptible: false, submittedAt: i, updatedAt: i, status: 'released', resources,
});

describe('the inflation experiment on the live cluster', () => {
  it('counts the nodes that can place now, emptied, with their available GPUs', () => {
    const c = cluster([{ name: 'a', gpus: 4 }, { name: 'b', gpus: 2, state: 'unreachable' }, { name: 'c', gpus: 2, cpu: null }, { name: 'd', gpus: 2, gpuMiB: 81_920 }]);
    const { nodes, gpuMiB } = liveNodes(c);
    // a's GPU 3 is not available; b cannot be reached; c has not reported its cpu (the scheduler places nothing there)
    expect(nodes.map((n) => [n.name, n.gpus])).toEqual([['a', 3], ['d', 2]]);
    expect(gpuMiB).toBe(81_920);
    // the experiment's GPUs are all 1000; compare's replay keeps each node's own
    expect(nodes.map((n) => n.gpuMemoryMiB)).toEqual([1000, 1000]);
    expect(liveNodes(c, 'actual').nodes.map((n) => [n.name, n.gpuMemoryMiB, n.model])).toEqual([['a', 16_384, 'GPU'], ['d', 81_920, 'GPU']]);
  });

  it('a share is thousandths of the largest GPU; as large as it, a whole GPU', () => {
    expect(requestPod({ cpu: 500, memoryMiB: 256, gpus: 0, gpuMemMiB: 4096 }, 16_384)).toEqual({ cpuMilli: 500, memoryMiB: 256, numGpu: 1, gpuMilli: 250, gpuSpec: [] });
    expect(requestPod({ cpu: 0, memoryMiB: 0, gpus: 0, gpuMemMiB: 1 }, 16_384).gpuMilli).toBe(1);
    expect(requestPod({ cpu: 0, memoryMiB: 0, gpus: 0, gpuMemMiB: 16_384 }, 16_384)).toMatchObject({ numGpu: 1, gpuMilli: 0 });
    expect(requestPod({ cpu: 0, memoryMiB: 0, gpus: 2 }, 16_384)).toMatchObject({ numGpu: 2, gpuMilli: 0 });
  });

  it('marks the placement of the strategy in force when it is a line', () => {
    expect(currentPlacement({ name: 'resource_pooling', config: { placementMethod: 'score' } })).toBe('resource_pooling');
    expect(currentPlacement({ name: 'resource_pooling', config: { placementMethod: 'fgd' } })).toBe('fgd');
    expect(currentPlacement({ name: 'hybrid', config: { placementMethod: 'fgd' } })).toBe('fgd');
    expect(currentPlacement({ name: 'hybrid', config: { placementMethod: 'score' } })).toBeNull();
    expect(currentPlacement({ name: 'load_balancing', config: {} })).toBe('load_balancing');
    expect(currentPlacement({ name: 'priority_based', config: {} })).toBeNull();
  });

  it('bounds the draws on a big cluster: the lines stop short of 100 % and say where the cap was', () => {
    const big = cluster(Array.from({ length: 200 }, (_, i) => ({ name: `n${i}`, gpus: 8 })));
    // 64 kinds of small shares: thousands of pods would be needed to fill 1,400 GPUs
    const requests = Array.from({ length: 640 }, (_, i) => request(i, { cpu: 100 + (i % 64), memoryMiB: 128, gpus: 0, gpuMemMiB: 512 }));
    const out = InflationResultSchema.parse(liveInflation({ cluster: big, requests, seed: 1, strategy: { name: 'priority_based', config: {} } }));
    expect(out).toMatchObject({ nodes: 200, gpus: 1400, requests: 640, gpuRequests: 640, empty: null });
    expect(out.maxPods).toBeLessThan(MAX_PODS);
    for (const p of out.placements) {
      expect(p.pods).toBe(out.maxPods);
      expect(p.points.length).toBeLessThan(100);
    }
  });
});
