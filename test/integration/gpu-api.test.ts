import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SourceUnavailableError } from '../../server/monitor/loop.ts';
import { GpuSchema, ResourceStatusSchema } from '../../shared/resources.ts';
import { FakeHostSource } from '../helpers/fake-host.ts';
import { FakeGpuSource, fakeGpu } from '../helpers/fake-gpu.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

let s: TestServer;
const gpus = new FakeGpuSource([fakeGpu(0), fakeGpu(1, { health: 'critical', temperatureC: 95, processes: [
  { pid: 4242, name: 'python train.py --a=1, --b=2', type: 'C', usedMemoryMiB: 2048, gpuUuid: 'GPU-1', gpuIndex: 1, gpuInstanceId: null, computeInstanceId: null, user: 'ana', containerId: null },
] })]);
beforeAll(async () => {
  s = await startTestServer({ hostSource: new FakeHostSource(), gpuSource: gpus, hostIntervalMs: 3_600_000, configure: (c) => void (c.monitor.gpuIntervalMs = 3_600_000) });
  await s.app.loop.runOnce('gpu');
});
afterAll(() => s.close());
const get = (p: string) => fetch(`${s.url}${p}`, { headers: { Authorization: `Bearer ${s.token}` } });

describe('GPUs in the snapshot and the API', () => {
  it('puts GPUs with their processes in resource_status and rates the node by the worst GPU', () => {
    const snap = ResourceStatusSchema.parse(s.app.board.snapshot());
    expect(snap.gpus.map((g) => g.index)).toEqual([0, 1]);
    expect(snap.gpus[1]!.processes[0]!.name).toBe('python train.py --a=1, --b=2');
    expect(snap.health).toBe('critical');
    expect(s.app.hub.latest('resource_status')!.env.data).toEqual(snap);
  });

  it('GET /api/status/gpus and /api/status/gpus/:index', async () => {
    const all = (await (await get('/api/status/gpus')).json()) as { source: { status: string }; gpus: unknown[] };
    expect(all.source.status).toBe('ok');
    expect(all.gpus).toHaveLength(2);
    expect(GpuSchema.parse(await (await get('/api/status/gpus/1')).json()).temperatureC).toBe(95);
    expect((await get('/api/status/gpus/7')).status).toBe(404);
    const bad = await get('/api/status/gpus/first');
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { details: { field: string }[] } }).error.details[0]!.field).toBe('index');
  });

  it('keeps per-GPU history series and Prometheus gauges with gpu and uuid labels', async () => {
    const names = ((await (await get('/api/history/series')).json()) as { series: string[] }).series;
    expect(names).toEqual(expect.arrayContaining(['gpu.0.util', 'gpu.0.mem', 'gpu.0.temp', 'gpu.0.power', 'gpu.1.temp']));
    const mem = (await (await get('/api/history?series=gpu.0.mem&sinceMs=0')).json()) as { series: { v: number[] }[] };
    expect(mem.series[0]!.v.at(-1)).toBe(25);
    const text = await (await get('/metrics')).text();
    expect(text).toMatch(/^arbiter_gpu_temperature_celsius\{gpu="1",uuid="GPU-1",name="Test GPU"\} 95$/m);
    expect(text).toMatch(/^arbiter_gpu_processes\{gpu="1",uuid="GPU-1",name="Test GPU"\} 1$/m);
  });

  it('shows no GPUs when the source becomes unavailable', async () => {
    gpus.fail = new SourceUnavailableError('nvidia-smi not found');
    await s.app.loop.runOnce('gpu');
    const snap = s.app.board.snapshot();
    expect(snap.sources.gpu).toMatchObject({ status: 'unavailable', message: 'nvidia-smi not found' });
    expect(snap.gpus).toEqual([]);
  });
});
