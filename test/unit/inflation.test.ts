/**
 * The workload-inflation experiment (`arbiter simulate --experiment inflation`): a small pod list and node list
 * written here (seeded draws: the same figures on every run), its JSON, its chart (shared/plot.ts) and the bound on
 * draws; and the real trace's cluster (1,213 nodes, 6,212 GPUs) when ../shared/traces is there.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { SimulateArgsError } from '../../server/sim/cli.ts';
import { runInflationExperiment } from '../../server/sim/inflation-cli.ts';
import { podShape, runInflation, traceDistribution } from '../../server/sim/inflation.ts';
import { INFLATION_PLACEMENTS } from '../../shared/names.ts';
import { lineChart } from '../../shared/plot.ts';
import { findTraceFiles, parsePods } from '../../server/sim/trace.ts';

const dir = mkdtempSync(join(tmpdir(), 'arbiter-inflation-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const HEADER = 'name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,deletion_time,scheduled_time';
const podRow = (i: number, cpu: number, gpus: number, milli: number, spec = '') => `p-${i},${cpu},1024,${gpus},${milli},${spec},LS,Running,${i},${i + 10},${i}`;
const trace = join(dir, 'tiny-openb_pod_list_default.csv');
writeFileSync(trace, [HEADER, podRow(0, 1000, 1, 500), podRow(1, 1000, 1, 300), podRow(2, 2000, 1, 1000), podRow(3, 4000, 2, 1000), podRow(4, 1000, 0, 0)].join('\n'));
const nodeList = join(dir, 'nodes.csv');
writeFileSync(nodeList, ['sn,cpu_milli,memory_mib,gpu,model', 'a,32000,65536,4,T4', 'b,32000,65536,4,T4', 'c,16000,65536,2,P100', 'd,64000,131072,8,G2'].join('\n'));

describe('workload inflation', () => {
  it('draws pods until the arrived GPU demand reaches the capacity, for every placement, the same pods for each', () => {
    const out = runInflationExperiment({ trace, nodesFrom: nodeList, experiment: 'inflation', seed: 7 });
    expect(out).toMatchObject({ experiment: 'inflation', nodes: 4, gpus: 18, seed: 7 });
    expect(out.placements.map((p) => p.name)).toEqual([...INFLATION_PLACEMENTS]);
    for (const p of out.placements) {
      expect(p.points.map((x) => x.arrivedPct)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
      expect(p.pods).toBe(out.placements[0]!.pods);
      expect(p.unallocatedGpuPctAt['100']).toBeGreaterThanOrEqual(p.unallocatedGpuPctAt['90']);
      // unallocated never exceeds what arrived
      for (const x of p.points) expect(x.unallocatedGpuPct).toBeLessThanOrEqual(x.arrivedPct + 100 / 18);
    }
    // seeded: the same figures again
    const again = runInflationExperiment({ trace, nodesFrom: nodeList, experiment: 'inflation', seed: 7 });
    expect(again.placements.map((p) => p.unallocatedGpuPctAt)).toEqual(out.placements.map((p) => p.unallocatedGpuPctAt));
    const json = JSON.parse(JSON.stringify(out));
    expect(typeof json.placements[0].unallocatedGpuPctAt['90']).toBe('number');
    expect(typeof json.placements[0].unallocatedGpuPctAt['100']).toBe('number');
  });

  it('a pod that names GPU models goes only to nodes of those models', () => {
    const pods = parsePods([HEADER, podRow(0, 1000, 1, 1000, 'P100')].join('\n'));
    const nodes = [
      { name: 't4', cpu: 32000, memoryMiB: 65536, gpus: 4, gpuMemoryMiB: 1000, model: 'T4' },
      { name: 'p100', cpu: 32000, memoryMiB: 65536, gpus: 2, gpuMemoryMiB: 1000, model: 'P100' },
    ];
    for (const r of runInflation({ pods, nodes, seed: 1 })) {
      // 6 GPUs of demand arrive; only the P100 node's 2 can take them
      expect(r.pods).toBe(6);
      expect(r.failed).toBe(4);
      expect(r.unallocatedGpuPctAt['100']).toBeCloseTo((100 * 4) / 6);
    }
  });

  it('the trace distribution counts each shape; a share is its gpu_milli of a 1000 MiB GPU', () => {
    const pods = parsePods([HEADER, podRow(0, 1000, 1, 500), podRow(1, 1000, 1, 500), podRow(2, 2000, 2, 1000)].join('\n'));
    expect(podShape(pods[0]!)).toEqual({ cpu: 1000, memoryMiB: 1024, whole: 0, fracMiB: 500 });
    expect(traceDistribution(pods).map((t) => [t.whole, t.fracMiB, t.weight])).toEqual([[0, 500, 2], [2, 0, 1]]);
  });

  it('--plot writes an SVG line chart, one line per placement', () => {
    const svg = join(dir, 'chart.svg');
    runInflationExperiment({ trace, nodesFrom: nodeList, experiment: 'inflation', placements: 'fgd,best_fit', plot: svg });
    const text = readFileSync(svg, 'utf8');
    expect(text.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(text.match(/<polyline /g)).toHaveLength(2);
    expect(text).toContain('>fgd</text>');
    expect(text).toContain('>best_fit</text>');
    // the first line (FGD's) stands out unless another is named
    expect(text).toMatch(/<polyline data-series="fgd" fill="none" stroke="[^"]+" stroke-width="3"/);
    expect(text).toMatch(/<polyline data-series="best_fit" fill="none" stroke="[^"]+" stroke-width="1.5"/);
  });

  it('the chart draws the named series thicker, escapes every name, and ends its x axis at xMax', () => {
    const svg = lineChart([{ name: 'a', points: [{ x: 0, y: 0 }, { x: 40, y: 3 }] }, { name: '<b&"c">', points: [{ x: 0, y: 1 }] }], {
      title: 't', xLabel: 'x', yLabel: 'y', xMax: 100, highlight: '<b&"c">',
    });
    expect(svg).toContain('data-series="&lt;b&amp;&quot;c&quot;&gt;" fill="none" stroke="#1f77b4" stroke-width="3"');
    expect(svg).toContain('data-series="a" fill="none" stroke="#d62728" stroke-width="1.5"');
    expect(svg).not.toContain('<b&');
    expect(svg).toContain('>100</text>');
    expect(lineChart([{ name: 'a', points: [] }], { title: 't', xLabel: 'x', yLabel: 'y', highlight: null })).toContain('stroke-width="1.5"');
  });

  it('maxPods bounds the draws: a run stops there, its points where the arrived demand got', () => {
    const pods = parsePods([HEADER, podRow(0, 1000, 1, 1000)].join('\n'));
    const [r] = runInflation({ pods, nodes: [{ name: 'a', cpu: 32000, memoryMiB: 65536, gpus: 10, gpuMemoryMiB: 1000 }], placements: ['fgd'], maxPods: 4 });
    expect(r!.pods).toBe(4);
    expect(r!.points.map((p) => p.arrivedPct)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
  });

  it('names an unknown placement by its flag', () => {
    expect(() => runInflationExperiment({ trace, experiment: 'inflation', placements: 'fgd,tetris' })).toThrow(SimulateArgsError);
    expect(() => runInflationExperiment({ trace, experiment: 'inflation', placements: 'tetris' })).toThrow(/^--placements: unknown placement "tetris"/);
  });
});

const tracePath = process.env.ARBITER_TRACE ?? fileURLToPath(new URL('../../../shared/traces', import.meta.url));
const files = findTraceFiles(tracePath);

describe.skipIf(!files?.gpuNodes)('workload inflation on the trace\'s cluster', () => {
  it('1,213 nodes, 6,212 GPUs; best_fit and resource_pooling leave GPUs unallocated at 100 % arrived demand', () => {
    const out = runInflationExperiment({ trace: tracePath, nodesFrom: files!.gpuNodes!, experiment: 'inflation', placements: 'best_fit,resource_pooling' });
    expect(out).toMatchObject({ nodes: 1213, gpus: 6212 });
    for (const p of out.placements) {
      expect(p.unallocatedGpuPctAt['100']).toBeGreaterThan(1);
      expect(p.unallocatedGpuPctAt['100']).toBeLessThan(20);
    }
  }, 60_000);
});
