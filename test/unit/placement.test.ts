/**
 * FGD and its baselines (server/scheduler/placement/) on small nodes whose figures are worked out by hand in the
 * comments: GPUs of 1000 MiB, so a share of 300 MiB is 0.3 GPU and fragmentation reads in GPUs.
 */
import { describe, expect, it } from 'vitest';
import { Cluster } from '../../server/scheduler/cluster.ts';
import { declaredInventory } from '../../server/scheduler/inventory.ts';
import type { Ledger, Shape } from '../../server/scheduler/ledger.ts';
import { bestFit, dotProduct, gpuClustering, gpuPacking, random } from '../../server/scheduler/placement/baselines.ts';
import { fgd, fragmentationGrowth } from '../../server/scheduler/placement/fgd.ts';
import { FragmentationMemo, WorkloadDistribution, nodeFragmentation, nodeFree, weighTypes, type TaskType } from '../../server/scheduler/placement/fragmentation.ts';
import { createStrategy } from '../../server/scheduler/strategies/index.ts';
import { gpuNode, sim } from '../helpers/cluster.ts';

const share = (fracMiB: number, cpu = 1000): Shape => ({ cpu, memoryMiB: 0, whole: 0, fracMiB });
const whole = (n: number, cpu = 1000): Shape => ({ cpu, memoryMiB: 0, whole: n, fracMiB: 0 });
const type = (s: Shape, weight = 1, models?: string[]): TaskType => ({ ...s, weight, ...(models ? { models } : {}) });

/** Nodes of `gpus` 1000 MiB GPUs; `held`: per node, shares (MiB) booked on GPU 0, 1, … in turn. */
function cluster(nodes: { name: string; gpus: number; cpu?: number; model?: string; held?: number[] }[]): { c: Cluster; ledger: (n: string) => Ledger } {
  const c = new Cluster(nodes[0]!.name, true);
  for (const n of nodes) {
    c.setInventory(declaredInventory(n.name, {
      resources: { cpu: n.cpu ?? 32_000, memoryMiB: 65_536, gpus: Array.from({ length: n.gpus }, (_, index) => ({ index, memoryMiB: 1000, ...(n.model ? { name: n.model } : {}) })) },
    }));
    (n.held ?? []).forEach((mib, i) => c.allocate(n.name, `${n.name}-h${i}`, share(mib), [i], { requestId: `${n.name}-h${i}`, owner: 'o', priority: 0, grantedAt: 0 }));
  }
  return { c, ledger: (n) => c.ledger(n)! };
}

const input = (c: Cluster, types: TaskType[], r: () => number = () => 0.5) => ({ ledgers: c.ledgers(), random: r, memo: new FragmentationMemo(types) });

describe('the fragmentation measure', () => {
  it('per task type: all free capacity when it cannot run, else the GPUs too small for it; weighted by popularity', () => {
    // GPU 0 shared with 300 MiB free (0.3), GPU 1 free as a whole: 1.3 GPUs free; cpu 4000 − 1000 held = 3000 free
    const { ledger } = cluster([{ name: 'n', gpus: 2, cpu: 4000, held: [700] }]);
    const n = nodeFree(ledger('n'));
    // a 0.5 share fits GPU 1: GPU 0's 0.3 is fragment
    expect(nodeFragmentation(n, [type(share(500))])).toBeCloseTo(0.3);
    // one whole GPU fits: the shared GPU's 0.3 is fragment
    expect(nodeFragmentation(n, [type(whole(1))])).toBeCloseTo(0.3);
    // two whole GPUs do not fit, no GPU asked, cpu short, another model: all 1.3
    expect(nodeFragmentation(n, [type(whole(2))])).toBeCloseTo(1.3);
    expect(nodeFragmentation(n, [type(whole(0))])).toBeCloseTo(1.3);
    expect(nodeFragmentation(n, [type(share(100, 4000))])).toBeCloseTo(1.3);
    expect(nodeFragmentation(n, [type(share(100), 1, ['A10'])])).toBeCloseTo(1.3);
    // a 0.2 share fits both GPUs: nothing is fragment
    expect(nodeFragmentation(n, [type(share(200))])).toBe(0);
    // the expectation: (0.3·1 + 0.3·1 + 1.3·2) ÷ 4 = 0.8
    expect(nodeFragmentation(n, [type(share(500)), type(whole(1)), type(whole(2), 2)])).toBeCloseTo(0.8);
  });

  it('the distribution learned from requests counts each request once', () => {
    const d = new WorkloadDistribution();
    d.observe(share(500), 'r1');
    d.observe(share(500), 'r1');
    d.observe(share(500), 'r2');
    d.observe(whole(1), 'r3');
    expect(d.types().map((t) => [t.fracMiB, t.whole, t.weight])).toEqual([[500, 0, 2], [0, 1, 1]]);
    expect(d.version).toBe(3);
  });
});

describe('FGD', () => {
  it('takes the GPU where fragmentation grows least, where best fit would strand a sliver', () => {
    // one node, GPUs with 350 and 500 MiB free; the workload asks 0.3 shares. A 0.2 share on GPU 0 (best fit) leaves
    // 0.15 that no 0.3 share can use (+0.15); on GPU 1 it leaves 0.3, still usable (+0)
    const { c, ledger } = cluster([{ name: 'n', gpus: 2, held: [650, 500] }]);
    const types = [type(share(300))];
    const growth = fragmentationGrowth(ledger('n'), share(200), new FragmentationMemo(types));
    expect(growth.map(([g, gpus]) => [+g.toFixed(6), gpus])).toEqual([[0.15, [0]], [0, [1]]]);
    expect(fgd(share(200), input(c, types))).toEqual({ node: 'n', gpuIndices: [1] });
    expect(bestFit(share(200), input(c, types))).toEqual({ node: 'n', gpuIndices: [0] });
  });

  it('chooses the node: a share onto the GPU already shared, keeping whole GPUs whole', () => {
    // workload: 0.5 shares and single whole GPUs, alike. x: GPUs [0.5 free, 1, 1, 1]: frag (0 + 0.5) ÷ 2 = 0.25;
    // the share on x's GPU 0 leaves [0, 1, 1, 1]: frag 0 (−0.25); on x's GPU 1 [0.5, 0.5, 1, 1]: (0 + 1) ÷ 2 = 0.5
    // (+0.25); on an empty y or z: [0.5, 1, …]: +0.25
    const { c } = cluster([{ name: 'x', gpus: 4, held: [500] }, { name: 'y', gpus: 4 }, { name: 'z', gpus: 2 }]);
    const types = [type(share(500)), type(whole(1))];
    expect(fgd(share(500), input(c, types))).toEqual({ node: 'x', gpuIndices: [0] });
  });

  it('breaks a tie in growth towards the node with less free GPU capacity', () => {
    // only 0.5 shares in the workload: every move grows fragmentation by 0; z has 2 GPUs free, y 4
    const { c } = cluster([{ name: 'y', gpus: 4 }, { name: 'z', gpus: 2 }]);
    expect(fgd(share(500), input(c, [type(share(500))]))).toEqual({ node: 'z', gpuIndices: [0] });
  });

  it('weighted by GPU demand, keeps a node whole for a rare two-GPU task that count weighting gives away', () => {
    // workload: 19 × 0.3 shares, 1 × two whole GPUs, 5 × no GPU. a: two GPUs free; b: one GPU with 0.5 free.
    // count (W 25; the no-GPU type sees all free capacity as fragment: −0.3·5 wherever the share goes): on a → [0.7, 1],
    // the pair no longer fits: (1·1.7 − 1.5)/25 = 0.008; on b → 0.2 left, too small for a share: (19·0.2 + 1·0.2 −
    // 1·0.5 − 1.5)/25 = 0.08 → a. demand (5.7, 2 and 0; W 7.7): on a 2·1.7/7.7 = 0.44; on b (5.7·0.2 + 2·0.2 − 2·0.5)/7.7
    // = 0.07 → b
    const { c } = cluster([{ name: 'a', gpus: 2 }, { name: 'b', gpus: 1, held: [500] }]);
    const types = [type(share(300), 19), type(whole(2), 1), type(whole(0), 5)];
    const demand = weighTypes(types, 'demand', 1000);
    expect(demand.map((t) => +t.weight.toFixed(6))).toEqual([5.7, 2, 0]);
    expect(weighTypes(types, 'count', 1000)).toBe(types);
    expect(fgd(share(300), input(c, types))).toEqual({ node: 'a', gpuIndices: [0] });
    expect(fgd(share(300), input(c, [...demand]))).toEqual({ node: 'b', gpuIndices: [0] });
  });
});

describe('the baselines on one small case', () => {
  // n1: 4 GPUs, GPU 0 holds a 0.5 share (0.5 free), cpu 31,000 of 32,000 free; n2: 4 GPUs idle, 32,000 cpu;
  // n3: 2 GPUs idle, 16,000 cpu. The request: a 0.5 share and 1,000 millicores.
  const nodes = () => cluster([{ name: 'n1', gpus: 4, held: [500] }, { name: 'n2', gpus: 4 }, { name: 'n3', gpus: 2, cpu: 16_000 }]).c;
  const ask = share(500);

  it('gpu_packing: the GPU already shared', () => {
    expect(gpuPacking(ask, input(nodes(), []))).toEqual({ node: 'n1', gpuIndices: [0] });
  });

  it('gpu_clustering: the node hosting only this request', () => {
    expect(gpuClustering(ask, input(nodes(), []))).toEqual({ node: 'n1', gpuIndices: [0] });
    // a 0.3 share: n1 hosts another request (rank 0); n2 and n3 are idle (rank 1), n3 with less free GPU
    expect(gpuClustering(share(300), input(nodes(), []))).toEqual({ node: 'n3', gpuIndices: [0] });
  });

  it('best_fit: least ½·free cpu/32,000 + ½·free GPUs/4 after it — n3', () => {
    // n1: ½·30,000/32,000 + ½·3/4 = 0.84375; n2: ½·31,000/32,000 + ½·3.5/4 = 0.921875; n3: ½·15,000/32,000 + ½·1.5/4 = 0.421875
    expect(bestFit(ask, input(nodes(), []))).toEqual({ node: 'n3', gpuIndices: [0] });
  });

  it('dot_product: least request · free, each ÷ the node — n1\'s shared GPU', () => {
    // n1 GPU 0: (1/32)(31/32) + (0.5)(0.5) ≈ 0.280; n1 GPU 1: … + 0.5·1 ≈ 0.530; n2: 1/32 + 0.5 = 0.531; n3: 1/16 + 0.5
    expect(dotProduct(ask, input(nodes(), []))).toEqual({ node: 'n1', gpuIndices: [0] });
  });

  it('random: a fitting node and GPU as the random source says', () => {
    // always 0: every later tie replaces the choice (the last node), and the first GPU of it
    expect(random(ask, input(nodes(), [], () => 0))).toEqual({ node: 'n3', gpuIndices: [0] });
    // always 0.999: the first node stays, its last GPU with room
    expect(random(ask, input(nodes(), [], () => 0.999))).toEqual({ node: 'n1', gpuIndices: [3] });
    // nothing fits: null
    expect(random(whole(5), input(nodes(), []))).toBeNull();
  });
});

describe('placementMethod: fgd in resource_pooling and hybrid', () => {
  it.each(['resource_pooling', 'hybrid'] as const)('%s places by FGD with it, by its score without (the default)', (name) => {
    expect((createStrategy(name).config as { placementMethod: string }).placementMethod).toBe('score');
    // a: GPU 0 has 350 MiB free of 1000, GPU 1 500; the requests seen so far ask 300 MiB shares
    const run = (config: object) => {
      const s = sim({ strategy: createStrategy(name, config), nodes: [gpuNode('a', 2, { gpuMiB: 1000 })] });
      s.submit('h0', { owner: 'o', resources: { cpu: 0, gpus: 1, gpuMemMiB: 650 } });
      s.submit('h1', { owner: 'o', resources: { cpu: 0, gpus: 1, gpuMemMiB: 500 } });
      for (let i = 0; i < 4; i++) {
        const r = s.submit(`p${i}`, { owner: 'o', resources: { cpu: 0, gpus: 1, gpuMemMiB: 300 } });
        s.engine.release(r.allocation!.id);
      }
      return s.submit('x', { owner: 'o', resources: { cpu: 0, gpus: 1, gpuMemMiB: 200 } }).allocation!.gpuIndices;
    };
    // best fit: GPU 0 (leaves 150, which no 300 share can use); FGD: GPU 1 (leaves 300)
    expect(run({})).toEqual([0]);
    expect(run({ placementMethod: 'fgd' })).toEqual([1]);
  });

  it.each(['resource_pooling', 'hybrid'] as const)('%s with fgdWeighting demand keeps a node whole that count weighting gives away', (name) => {
    // seen, in this order: one two-GPU request, one 0.5 share (held on b), then 0.3 shares. When x (a 0.3 share)
    // comes, FGD measures with what it took at 18 seen (it measures afresh at +25 %): 1 pair, 1 × 0.5, 16 × 0.3.
    // count (W 18): on a → [0.7, 1], the pair no longer fits: +1.7/18 = 0.09; on b → 0.2 left: (16·0.2 + 0.2 + 0.2
    // − 0.5)/18 = 0.17 → a. demand (4.8, 2, 0.5; W 7.3): on a 2·1.7/7.3 = 0.47; on b (4.8·0.2 + 2·0.2 + 0.5·0.2
    // − 2·0.5)/7.3 = 0.06 → b
    const run = (fgdWeighting: string) => {
      const s = sim({ strategy: createStrategy(name, { placementMethod: 'fgd', fgdWeighting }), nodes: [gpuNode('a', 2, { gpuMiB: 1000 }), gpuNode('b', 1, { gpuMiB: 1000 })] });
      s.engine.release(s.submit('pair', { owner: 'o', resources: { cpu: 0, gpus: 2 } }).allocation!.id);
      s.submit('held', { owner: 'o', node: 'b', resources: { cpu: 0, gpus: 1, gpuMemMiB: 500 } });
      for (let i = 0; i < 19; i++) s.engine.release(s.submit(`p${i}`, { owner: 'o', node: 'a', resources: { cpu: 0, gpus: 1, gpuMemMiB: 300 } }).allocation!.id);
      return s.submit('x', { owner: 'o', resources: { cpu: 0, gpus: 1, gpuMemMiB: 300 } }).allocation!.node;
    };
    expect(run('count')).toBe('a');
    expect(run('demand')).toBe('b');
  });
});

describe('GPU models on a node of mixed GPUs', () => {
  const mixed = () => {
    const c = new Cluster('m', true);
    c.setInventory(declaredInventory('m', {
      resources: { cpu: 32_000, memoryMiB: 65_536, gpus: [{ index: 0, memoryMiB: 1000, name: 'Tesla T4' }, { index: 1, memoryMiB: 1000, name: 'NVIDIA A100-PCIE-40GB' }, { index: 2, memoryMiB: 1000, name: 'Tesla T4' }] },
    }));
    return c;
  };
  const a100 = (s: Shape): Shape => ({ ...s, models: ['A100'] });

  it('the GPUs of other models are fragment for a task of a model', () => {
    const n = nodeFree(mixed().ledger('m')!);
    // 3 free GPUs; an A100 task can use GPU 1 only: the two T4s are fragment for it, for a T4 task the A100 is
    expect(nodeFragmentation(n, [type(whole(1), 1, ['A100'])])).toBeCloseTo(2);
    expect(nodeFragmentation(n, [type(share(500), 1, ['t4'])])).toBeCloseTo(1);
    expect(nodeFragmentation(n, [type(whole(2), 1, ['A100'])])).toBeCloseTo(3);
    expect(nodeFragmentation(n, [type(whole(1))])).toBe(0);
  });

  it('FGD and every baseline place a task of a model on a GPU of it', () => {
    for (const place of [fgd, random, dotProduct, gpuClustering, gpuPacking, bestFit]) {
      for (const r of [() => 0, () => 0.999]) {
        expect(place(a100(whole(1)), input(mixed(), [type(whole(1))], r))).toEqual({ node: 'm', gpuIndices: [1] });
        expect(place(a100(share(300)), input(mixed(), [type(share(300))], r))).toEqual({ node: 'm', gpuIndices: [1] });
        expect(place(a100(whole(2)), input(mixed(), [], r))).toBeNull();
      }
    }
  });
});
