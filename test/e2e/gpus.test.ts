/**
 * The GPU view in headless Chromium against real servers (port 0) whose gpu source is a FakeGpuSource.
 * Screenshots go to test/artifacts/.
 */
import { describe, expect, it } from 'vitest';
import { SourceUnavailableError } from '../../server/monitor/loop.ts';
import type { Gpu, GpuProcess } from '../../shared/resources.ts';
import { FakeGpuSource, fakeGpu } from '../helpers/fake-gpu.ts';
import type { TestServer } from '../helpers/server.ts';
import { ARTIFACTS, LIVE_WAIT_MS, useE2e, type OpenedPage } from '../helpers/browser.ts';

const e2e = useE2e();
const LONG_NAME = 'python -m torch.distributed.run --nproc_per_node=1 train.py --model=llama-7b, --batch=64, --data=/datasets/a,b,c';

/**
 * A fake gpu source whose samples carry the time they were taken (so history and sparkline grow), and which first
 * serves `replay`: back-dated samples, as if the server had been watching the GPUs for the last minutes.
 */
class TickingGpuSource extends FakeGpuSource {
  replay: Gpu[][] = [];
  override async sample(): Promise<Gpu[]> {
    const past = this.replay.shift();
    if (past) return past;
    const now = Date.now();
    return (await super.sample()).map((g) => ({ ...g, sampledAt: now }));
  }
}

/** Samples every 10 s over the last `minutes`, utilisation and memory in slow waves around the given GPUs' figures. */
function pastMinutes(gpus: Gpu[], minutes: number): Gpu[][] {
  const now = Date.now();
  const out: Gpu[][] = [];
  for (let t = now - minutes * 60_000; t < now - 5_000; t += 10_000) {
    const k = t / 60_000;
    out.push(
      gpus.map((g) => ({
        ...g,
        sampledAt: t,
        utilizationGpuPercent: clamp((g.utilizationGpuPercent ?? 0) + 25 * Math.sin(k * 1.7 + g.index) + 8 * Math.sin(k * 7.3)),
        memoryUsedMiB: g.memoryUsedMiB === null || g.memoryTotalMiB === null ? null
          : Math.min(g.memoryTotalMiB, Math.max(0, g.memoryUsedMiB * (1 + 0.25 * Math.sin(k * 0.9 + g.index)))),
      })),
    );
  }
  return out;
}

const clamp = (x: number) => Math.min(100, Math.max(0, x));

function proc(pid: number, gpuIndex: number, over: Partial<GpuProcess>): GpuProcess {
  return {
    pid, name: `proc-${pid}`, type: 'C', usedMemoryMiB: 1024, gpuUuid: `GPU-${gpuIndex}`, gpuIndex,
    gpuInstanceId: null, computeInstanceId: null, user: 'ana', containerId: null, ...over,
  };
}

const gpu0 = (util: number) =>
  fakeGpu(0, {
    name: 'NVIDIA A100-SXM4-80GB', utilizationGpuPercent: util, memoryTotalMiB: 81_920, memoryUsedMiB: 30_720, memoryFreeMiB: 51_200,
    temperatureC: 64, powerDrawW: 287.4, powerLimitW: 400,
    processes: [
      proc(31337, 0, { name: LONG_NAME, usedMemoryMiB: 24_576, user: 'ana', containerId: '4f1c2b3a9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a' }),
      proc(4242, 0, { name: 'python eval.py --split=val,test', usedMemoryMiB: 6_144, user: 'bo' }),
    ],
  });

const gpu1 = fakeGpu(1, {
  name: 'NVIDIA A100 80GB PCIe', utilizationGpuPercent: 12, memoryTotalMiB: 81_920, memoryUsedMiB: 10_240, memoryFreeMiB: 71_680,
  temperatureC: 83, powerDrawW: null, powerLimitW: 300, fanPercent: null, migMode: true, health: 'warning',
  migInstances: [
    { gpuInstanceId: 1, computeInstanceId: 0, profile: '3g.40gb', memoryTotalMiB: 40_448, memoryUsedMiB: 8_192, smCount: 42 },
    { gpuInstanceId: 2, computeInstanceId: 0, profile: '3g.40gb', memoryTotalMiB: 40_448, memoryUsedMiB: 2_048, smCount: 42 },
  ],
  processes: [proc(5150, 1, { name: 'vllm serve', usedMemoryMiB: 8_000, gpuInstanceId: 1, computeInstanceId: 0, user: 'cy' })],
});

function serve(gpuSource: FakeGpuSource): Promise<TestServer> {
  return e2e.serve({ gpuSource, hostIntervalMs: 250, configure: (c) => void (c.monitor.gpuIntervalMs = 200) });
}

/** The GPU view in a fresh browser profile, signed in with the server's token. */
function openDashboard(s: TestServer, viewport = { width: 1280, height: 900 }): Promise<OpenedPage> {
  return e2e.openDashboard(s, { path: '/gpus', viewport });
}

describe('GPU view (e2e)', () => {
  it('shows a card per GPU with its figures, processes and MIG instances, and updates live', async () => {
    const source = new TickingGpuSource([gpu0(40), gpu1]);
    const s = await serve(source);
    source.replay = pastMinutes(source.gpus, 10);
    while (source.replay.length > 0) await s.app.loop.runOnce('gpu');
    const { page, errors } = await openDashboard(s);

    const cards = page.getByTestId('gpu-card');
    await expect.poll(() => cards.count(), { timeout: LIVE_WAIT_MS, interval: 100 }).toBe(2);
    const card = (i: number) => page.locator(`[data-testid="gpu-card"][data-gpu-index="${i}"]`);
    const figure = (i: number, id: string) => card(i).getByTestId(id).textContent();

    expect(await card(0).locator('h3').textContent()).toBe('NVIDIA A100-SXM4-80GB');
    expect(await card(1).locator('h3').textContent()).toBe('NVIDIA A100 80GB PCIe');
    expect(await figure(0, 'gpu-util')).toBe('40.0 %');
    expect(await figure(0, 'gpu-mem')).toBe('30.0 / 80.0 GiB');
    expect(await figure(0, 'gpu-temp')).toBe('64 °C');
    expect(await figure(0, 'gpu-power')).toBe('287 / 400 W');
    expect(await figure(1, 'gpu-power')).toBe('— / 300 W');
    expect(await card(1).getAttribute('data-health')).toBe('warning');
    expect(await page.getByTestId('gpu-count').textContent()).toBe('2 GPUs');

    const rows = card(0).getByTestId('gpu-process');
    expect(await rows.count()).toBe(2);
    expect(await rows.nth(0).getAttribute('data-pid')).toBe('31337');
    const name = rows.nth(0).locator('td.proc-name');
    expect(await name.getAttribute('title')).toBe(LONG_NAME);
    // cut with an ellipsis: the text is wider than its cell
    expect(await name.evaluate((el) => el.scrollWidth > el.clientWidth && getComputedStyle(el).textOverflow === 'ellipsis')).toBe(true);
    expect(await rows.nth(0).textContent()).toContain('4f1c2b3a9d8e');
    expect(await rows.nth(0).textContent()).toContain('24.0 GiB');
    expect(await rows.nth(1).textContent()).toContain('bo');

    const mig = card(1).getByTestId('mig-instance');
    expect(await mig.count()).toBe(2);
    expect(await mig.nth(0).textContent()).toContain('3g.40gb');
    expect(await card(0).getByTestId('mig-instance').count()).toBe(0);

    // the sparkline has the last minutes from history, then live points
    const points = async () => ((await card(0).locator('.spark-line').first().getAttribute('d')) ?? '').split('L').length;
    await expect.poll(points, { timeout: LIVE_WAIT_MS }).toBeGreaterThan(50);
    const before = await points();
    await expect.poll(points, { timeout: LIVE_WAIT_MS }).toBeGreaterThan(before);

    // a new utilisation in the source shows up in the card by itself
    source.gpus = [gpu0(93), gpu1];
    await expect.poll(() => figure(0, 'gpu-util'), { timeout: LIVE_WAIT_MS, interval: 100 }).toBe('93.0 %');
    expect(await card(0).locator('[role="meter"]').first().getAttribute('aria-valuenow')).toBe('93');
    await page.waitForTimeout(1500); // a few more points after the step, for the picture

    await page.screenshot({ path: `${ARTIFACTS}dashboard-gpus.png`, fullPage: true });
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.waitForTimeout(300);
    await page.screenshot({ path: `${ARTIFACTS}dashboard-gpus-dark.png`, fullPage: true });
    await page.emulateMedia({ colorScheme: 'light' });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.waitForTimeout(300);
    // nothing wider than the phone
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await page.screenshot({ path: `${ARTIFACTS}dashboard-gpus-phone.png`, fullPage: true });
    expect(errors).toEqual([]);
  }, 60_000);

  it('shows a lost GPU in its card, and the message prominently when nvidia-smi fails', async () => {
    const lost = fakeGpu(1, {
      name: 'NVIDIA A100-SXM4-80GB', status: 'error', health: 'error', message: 'Unable to determine the device handle for GPU 0000:02:00.0: GPU is lost',
      utilizationGpuPercent: null, memoryUsedMiB: null, memoryFreeMiB: null, temperatureC: null, powerDrawW: null, fanPercent: null, clockSmMHz: null, pstate: null,
    });
    const source = new TickingGpuSource([gpu0(40), lost]);
    const s = await serve(source);
    const { page, errors } = await openDashboard(s);
    const card1 = page.locator('[data-testid="gpu-card"][data-gpu-index="1"]');
    await expect.poll(() => card1.getByTestId('gpu-lost').textContent(), { timeout: LIVE_WAIT_MS }).toContain('GPU is lost');
    expect(await card1.getByTestId('gpu-util').textContent()).toBe('—');

    source.fail = new Error("NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.");
    await expect.poll(() => page.getByTestId('gpu-error').textContent(), { timeout: LIVE_WAIT_MS }).toContain("couldn't communicate with the NVIDIA driver");
    expect(await page.getByTestId('gpu-card').count()).toBe(2); // the last figures stay, dimmed
    expect(await page.getByTestId('source-error').count()).toBe(0); // said once
    expect(await page.locator('.gpu-grid').getAttribute('class')).toContain('stale');
    await page.waitForTimeout(400); // the dimming fades in
    await page.screenshot({ path: `${ARTIFACTS}dashboard-gpu-error.png` });
    expect(errors).toEqual([]);
  }, 60_000);

  it('says "No NVIDIA GPU" on a machine without one', async () => {
    const s = await serve(new FakeGpuSource([], new SourceUnavailableError('nvidia-smi not found')));
    const { page, errors } = await openDashboard(s);
    await expect.poll(() => page.getByTestId('gpu-empty').textContent(), { timeout: LIVE_WAIT_MS, interval: 100 }).toContain('No NVIDIA GPU');
    expect(await page.getByTestId('gpu-empty').textContent()).toContain('nvidia-smi not found');
    expect(await page.getByTestId('gpu-card').count()).toBe(0);
    expect(await page.getByTestId('gpu-error').count()).toBe(0);
    await page.screenshot({ path: `${ARTIFACTS}dashboard-no-gpu.png` });
    expect(errors).toEqual([]);
  }, 60_000);
});
