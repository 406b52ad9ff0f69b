/**
 * The workload-inflation experiment on the live cluster, through the real CLI (`arbiter serve` with a declared node
 * of 4 GPUs): POST /api/strategy/compare with `inflation: true` answers the lines of every placement for the
 * requests this server has seen — an explanation instead while there are none, or none asks for a GPU — seeded, in
 * the one schema of shared/strategy.ts.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INFLATION_PLACEMENTS } from '../../shared/names.ts';
import { CompareResponseSchema, type InflationResult } from '../../shared/strategy.ts';
import { freePort, startCliServer } from '../helpers/cli-server.ts';

const TOKEN = 'compare-inflation-token-0123456789';
const cleanups: (() => void)[] = [];
let base = '';

beforeAll(async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'arbiter-inflation-live-'));
  cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
  const config = join(dataDir, 'arbiter.yaml');
  const gpus = [0, 1, 2, 3].map((i) => `    - index: ${i}\n      memoryMiB: 16384\n`).join('');
  writeFileSync(config, `resources:\n  cpu: 16000\n  memoryMiB: 65536\n  gpus:\n${gpus}`);
  const port = await freePort();
  const child = await startCliServer({ port, dataDir, token: TOKEN, args: ['--config', config], onCleanup: (fn) => cleanups.push(fn) });
  cleanups.push(() => child.kill('SIGKILL'));
  base = `http://127.0.0.1:${port}`;
}, 60_000);
afterAll(() => {
  for (const c of cleanups.splice(0).reverse()) c();
});

async function post(path: string, body: unknown): Promise<{ status: number; json: unknown }> {
  const res = await fetch(`${base}${path}`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, json: await res.json() };
}

async function inflation(body: Record<string, unknown> = {}): Promise<InflationResult> {
  const r = await post('/api/strategy/compare', { hours: 1, strategies: ['priority_based'], inflation: true, ...body });
  expect(r.status).toBe(200);
  const out = CompareResponseSchema.parse(r.json);
  expect(out.inflation).toBeDefined();
  return out.inflation!;
}

const submit = async (owner: string, resources: Record<string, number>) => expect((await post('/api/requests', { owner, resources })).status).toBeLessThan(300);

describe('compare with inflation: true on the live cluster', () => {
  it('explains an empty chart: no request yet, then requests that ask for no GPU', async () => {
    const none = await inflation();
    expect(none).toMatchObject({ nodes: 1, gpus: 4, requests: 0, gpuRequests: 0, placements: [], maxPods: 0 });
    expect(none.empty).toMatch(/No request in the compared hours/);
    await submit('cpu-only', { cpu: 500, memoryMiB: 256 });
    const cpuOnly = await inflation();
    expect(cpuOnly).toMatchObject({ requests: 1, gpuRequests: 0, placements: [] });
    expect(cpuOnly.empty).toMatch(/None of the 1 requests .* asks for a GPU/);
  });

  it('draws the submitted GPU requests onto the emptied cluster: a line per placement, seeded', async () => {
    await submit('alice', { cpu: 1000, memoryMiB: 1024, gpus: 1 });
    await submit('bob', { cpu: 500, memoryMiB: 512, gpuMemMiB: 8192 });
    const out = await inflation({ seed: 3 });
    expect(out).toMatchObject({ nodes: 1, gpus: 4, seed: 3, requests: 3, gpuRequests: 2, empty: null, current: null });
    expect(out.placements.map((p) => p.name)).toEqual([...INFLATION_PLACEMENTS]);
    expect(out.maxPods).toBeGreaterThan(0);
    for (const p of out.placements) {
      // 4 GPUs filled by 1 and ½ GPU pods: far below the cap, so every line reaches 100 % arrived
      expect(p.pods).toBeLessThan(out.maxPods);
      expect(p.points.map((x) => x.arrivedPct)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
      // what arrived on an empty cluster first is placed; no departures: the unallocated share never shrinks
      expect(p.points[0]!.unallocatedGpuPct).toBe(0);
      for (const [i, x] of p.points.entries()) {
        expect(x.unallocatedGpuPct).toBeGreaterThanOrEqual(i ? p.points[i - 1]!.unallocatedGpuPct : 0);
        expect(x.unallocatedGpuPct).toBeLessThanOrEqual(x.arrivedPct);
      }
    }
    // the same seed, cluster and requests: the same lines; compare without the option answers no experiment
    expect(await inflation({ seed: 3 })).toEqual(out);
    const plain = await post('/api/strategy/compare', { hours: 1, strategies: ['priority_based'] });
    expect(plain.json).not.toHaveProperty('inflation');
  });

  it('marks the line of the strategy in force; refuses a bad option by its field', async () => {
    const put = await fetch(`${base}/api/strategy`, {
      method: 'PUT', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'resource_pooling', config: { placementMethod: 'fgd' } }),
    });
    expect(put.status).toBe(200);
    expect((await inflation()).current).toBe('fgd');
    const bad = await post('/api/strategy/compare', { inflation: 'yes' });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.json)).toContain('inflation');
  });
});
