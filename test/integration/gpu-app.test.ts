/** The whole app with the real gpu source against the nvidia-smi stand-in replaying a real 4-GPU capture. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GpuSchema, ResourceStatusSchema } from '../../shared/resources.ts';
import { STAND_IN, fixture } from '../stand-ins/gpu-fixtures.ts';
import { openSse } from '../helpers/sse.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

let s: TestServer;
beforeAll(async () => {
  process.env.NVIDIA_SMI_FIXTURE = fixture('pai-tesla-k80-x4-azure-v10-430.26.xml');
  s = await startTestServer({
    hostIntervalMs: 3_600_000,
    configure: (c) => {
      c.monitor.gpu = true;
      c.monitor.nvidiaSmi = STAND_IN;
      c.monitor.gpuIntervalMs = 200;
    },
  });
});
afterAll(async () => {
  await s.close();
  delete process.env.NVIDIA_SMI_FIXTURE;
});

const get = (p: string) => fetch(`${s.url}${p}`, { headers: { Authorization: `Bearer ${s.token}` } });

describe('gpu source in the app', () => {
  it('pushes the four K80s of the capture in resource_status and serves them over REST and metrics', async () => {
    const sse = await openSse(`${s.url}/api/events?types=resource_status&access_token=${s.token}`);
    const frames = await sse.until((f) => f.some((x) => x.data && (JSON.parse(x.data) as { data: { gpus: unknown[] } }).data.gpus.length === 4), 20_000);
    sse.close();
    const status = ResourceStatusSchema.parse((JSON.parse(frames.at(-1)!.data!) as { data: unknown }).data);
    expect(status.sources.gpu!.status).toBe('ok');
    expect(status.gpus.map((g) => g.name)).toEqual(['Tesla K80', 'Tesla K80', 'Tesla K80', 'Tesla K80']);
    expect(status.gpus.map((g) => g.index)).toEqual([0, 1, 2, 3]);

    const one = GpuSchema.parse(await (await get('/api/status/gpus/3')).json());
    expect(one.memoryTotalMiB).toBe(11441);
    const metrics = await (await get('/metrics')).text();
    expect(metrics.match(/^arbiter_gpu_memory_total_mib\{gpu="\d",uuid="GPU-[^"]+",name="Tesla K80"\} 11441$/gm)).toHaveLength(4);
    const series = ((await (await get('/api/history/series')).json()) as { series: string[] }).series;
    expect(series).toEqual(expect.arrayContaining(['gpu.0.util', 'gpu.0.mem', 'gpu.0.temp', 'gpu.0.power', 'gpu.3.util']));
  });
});
