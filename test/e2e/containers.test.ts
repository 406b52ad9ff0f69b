/**
 * The containers view in headless Chromium against real servers (port 0) whose docker source is a FakeDockerSource.
 * Screenshots go to test/artifacts/.
 */
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { SourceUnavailableError } from '../../server/monitor/loop.ts';
import type { Container } from '../../shared/resources.ts';
import { FakeDockerSource, fakeContainer } from '../helpers/fake-docker.ts';
import { FakeGpuSource, fakeGpu } from '../helpers/fake-gpu.ts';
import type { TestServer } from '../helpers/server.ts';
import { ARTIFACTS, LIVE_WAIT_MS, useE2e, type OpenedPage } from '../helpers/browser.ts';

const e2e = useE2e();

const TRAIN_ID = '4f1c2b3a9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a';
const SERVE_ID = '9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b';
const DB_ID = '0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d';

const trainer = (over: Partial<Container> = {}) =>
  fakeContainer('llama-train', {
    id: TRAIN_ID, image: 'nvcr.io/nvidia/pytorch:24.05-py3', statusText: 'Up 3 hours', labels: { team: 'ml', owner: 'ana' },
    cpuPercent: 387.4, memoryUsedMiB: 25_088, memoryLimitMiB: 65_536, memoryPercent: 38.3, netRxBytesPerSec: 1_258_291, netTxBytesPerSec: 307_200,
    pids: 48, gpus: [{ index: 0, uuid: 'GPU-0', via: 'device_request' }], ...over,
  });
const server = (over: Partial<Container> = {}) =>
  fakeContainer('vllm-serve', {
    id: SERVE_ID, image: 'vllm/vllm-openai:v0.5.0', statusText: 'Up 2 days', labels: { team: 'ml' }, restartCount: 1,
    cpuPercent: 45.2, memoryUsedMiB: 61_440, memoryLimitMiB: 65_536, memoryPercent: 93.8, netRxBytesPerSec: 88_000, netTxBytesPerSec: 2_400_000,
    pids: 112, gpus: [{ index: 1, uuid: 'GPU-1', via: 'env' }], health: 'warning',
    ports: [{ privatePort: 8000, publicPort: 8000, type: 'tcp', ip: '0.0.0.0' }], ...over,
  });
const db = (over: Partial<Container> = {}) =>
  fakeContainer('pg-main', {
    id: DB_ID, image: 'postgres:16-alpine', statusText: 'Up 5 days (healthy)', labels: { team: 'data' }, healthcheck: 'healthy',
    cpuPercent: 3.1, memoryUsedMiB: 412, memoryLimitMiB: 2048, memoryPercent: 20.1, netRxBytesPerSec: 5_120, netTxBytesPerSec: 12_800, pids: 9,
    ports: [{ privatePort: 5432, publicPort: null, type: 'tcp', ip: null }], ...over,
  });

/** Two GPUs; a process of the trainer runs on GPU 0 (so that GPU's process table names it). */
const gpus = () => [
  fakeGpu(0, {
    name: 'NVIDIA A100-SXM4-80GB', utilizationGpuPercent: 91, memoryTotalMiB: 81_920, memoryUsedMiB: 61_440, memoryFreeMiB: 20_480,
    processes: [{ pid: 31337, name: 'python -m torch.distributed.run train.py', type: 'C', usedMemoryMiB: 60_000, gpuUuid: 'GPU-0', gpuIndex: 0, gpuInstanceId: null, computeInstanceId: null, user: 'ana', containerId: TRAIN_ID }],
  }),
  fakeGpu(1, { name: 'NVIDIA A100-SXM4-80GB', utilizationGpuPercent: 37, memoryTotalMiB: 81_920, memoryUsedMiB: 70_000, memoryFreeMiB: 11_920 }),
];

function serve(dockerSource: FakeDockerSource, gpuSource?: FakeGpuSource): Promise<TestServer> {
  return e2e.serve({
    dockerSource,
    ...(gpuSource ? { gpuSource } : {}),
    hostIntervalMs: 250,
    configure: (c) => {
      c.monitor.dockerIntervalMs = 500;
      c.monitor.gpuIntervalMs = 500;
    },
  });
}

/** The containers view in a fresh browser profile, signed in with the server's token. */
function openDashboard(s: TestServer, viewport = { width: 1280, height: 900 }): Promise<OpenedPage> {
  return e2e.openDashboard(s, { path: '/containers', viewport });
}

const rowNames = (page: Page) =>
  page.getByTestId('container-row').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-container-name')));

describe('containers view (e2e)', () => {
  it('lists the containers, sorts, filters and follows engine changes live', async () => {
    const docker = new FakeDockerSource([db(), trainer(), server()]);
    const s = await serve(docker, new FakeGpuSource(gpus()));
    const { page, errors } = await openDashboard(s);

    const table = page.getByTestId('containers-table');
    await expect.poll(() => page.getByTestId('container-row').count(), { timeout: LIVE_WAIT_MS, interval: 100 }).toBe(3);
    expect(await rowNames(page)).toEqual(['llama-train', 'pg-main', 'vllm-serve']);
    expect(await page.getByTestId('containers-count').textContent()).toBe('3 of 3');
    expect(await page.getByTestId('container-count').textContent()).toBe('3 containers');

    const row = (name: string) => page.locator(`[data-testid="container-row"][data-container-name="${name}"]`);
    expect(await row('llama-train').getByTestId('container-cpu').textContent()).toBe('387.4 %');
    expect(await row('llama-train').getByTestId('container-mem').textContent()).toBe('24.5 GiB / 64.0 GiB');
    expect(await row('llama-train').getByTestId('container-net').textContent()).toBe('↓ 1.20 MiB/s ↑ 300 KiB/s');
    // GPU 0 from the device request; the process on it confirms it (merged into one chip)
    expect(await row('llama-train').getByTestId('container-gpu').allTextContents()).toEqual(['GPU 0']);
    expect(await row('vllm-serve').getByTestId('container-gpu').getAttribute('title')).toMatch(/^via env/);
    expect(await row('vllm-serve').locator('.col-health .badge').getAttribute('data-health')).toBe('warning');
    // the GPU view's process table names the container the process runs in; back to the containers
    await page.getByTestId('nav-gpus').click();
    await expect.poll(() => page.getByTestId('gpu-process-container').first().textContent(), { timeout: LIVE_WAIT_MS }).toBe('llama-train');
    await page.getByTestId('nav-containers').click();
    await expect.poll(() => page.getByTestId('container-row').count(), { timeout: LIVE_WAIT_MS, interval: 100 }).toBe(3);

    // sort: a click on the CPU header puts the busiest first; the header says so
    const cpuHeader = table.locator('thead th', { hasText: 'CPU' });
    await cpuHeader.getByRole('button').click();
    expect(await rowNames(page)).toEqual(['llama-train', 'vllm-serve', 'pg-main']);
    expect(await cpuHeader.getAttribute('aria-sort')).toBe('descending');
    // and from the keyboard: focus the header button, Enter reverses it
    await cpuHeader.getByRole('button').focus();
    await page.keyboard.press('Enter');
    expect(await rowNames(page)).toEqual(['pg-main', 'vllm-serve', 'llama-train']);
    expect(await cpuHeader.getAttribute('aria-sort')).toBe('ascending');
    await page.keyboard.press('Enter');

    // filter: rows narrow as one types, "n of m" follows
    const filter = page.getByTestId('containers-filter');
    await filter.fill('VLLM');
    expect(await rowNames(page)).toEqual(['vllm-serve']);
    expect(await page.getByTestId('containers-count').textContent()).toBe('1 of 3');
    await filter.fill('team=ml');
    expect(await rowNames(page)).toEqual(['llama-train', 'vllm-serve']);
    await filter.fill('');
    expect(await page.getByTestId('container-row').count()).toBe(3);

    // new figures do not move the columns
    const widths = () => table.locator('thead th').evaluateAll((ths) => ths.map((th) => th.getBoundingClientRect().width));
    const before = await widths();
    docker.containers = [db({ cpuPercent: 0.4 }), trainer({ cpuPercent: 1599.9, memoryUsedMiB: 65_000, memoryPercent: 99.2, netRxBytesPerSec: 987_654_321, netTxBytesPerSec: 3 }), server()];
    s.app.board.setContainers(docker.containers, { publish: true });
    await expect.poll(() => row('llama-train').getByTestId('container-cpu').textContent(), { timeout: LIVE_WAIT_MS, interval: 100 }).toBe('1599.9 %');
    expect(await widths()).toEqual(before);

    // the engine says a container exited: pushed at once, the row follows
    docker.containers = [
      db({ state: 'exited', statusText: 'Exited (0) 1 second ago', cpuPercent: null, memoryUsedMiB: null, memoryLimitMiB: null, memoryPercent: null, netRxBytesPerSec: null, netTxBytesPerSec: null, pids: null }),
      trainer(), server(),
    ];
    s.app.board.setContainers(docker.containers, { publish: true });
    await expect.poll(() => row('pg-main').getAttribute('data-state'), { timeout: LIVE_WAIT_MS, interval: 100 }).toBe('exited');
    expect(await row('pg-main').getByTestId('container-state').textContent()).toBe('exited');
    expect(await row('pg-main').getByTestId('container-cpu').textContent()).toBe('—');
    expect(await rowNames(page)).toEqual(['llama-train', 'vllm-serve', 'pg-main']); // still by CPU: unreported last
    expect(await widths()).toEqual(before);

    await filter.blur();
    await page.mouse.move(0, 0);
    await page.getByTestId('containers').scrollIntoViewIfNeeded();
    await page.screenshot({ path: `${ARTIFACTS}dashboard-containers.png`, fullPage: true });
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.waitForTimeout(300);
    await page.getByTestId('containers').screenshot({ path: `${ARTIFACTS}dashboard-containers-dark.png` });
    await page.emulateMedia({ colorScheme: 'light' });

    // a tablet: the image goes first
    await page.setViewportSize({ width: 820, height: 1000 });
    await page.waitForTimeout(300);
    expect(await table.locator('thead th.col-image').isVisible()).toBe(false);
    expect(await table.locator('thead th.col-net').isVisible()).toBe(true);
    await page.getByTestId('containers').screenshot({ path: `${ARTIFACTS}dashboard-containers-tablet.png` });

    // a phone: fewer columns, nothing wider than the screen
    await page.setViewportSize({ width: 390, height: 844 });
    await page.waitForTimeout(300);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    expect(await table.locator('thead th.col-image').isVisible()).toBe(false);
    expect(await table.locator('thead th.col-name').isVisible()).toBe(true);
    expect(await table.locator('thead th.col-health').isVisible()).toBe(true);
    await page.getByTestId('containers').screenshot({ path: `${ARTIFACTS}dashboard-containers-phone.png` });
    expect(errors).toEqual([]);
  }, 60_000);

  it('says "No Docker or Podman engine" quietly on a host without one', async () => {
    const s = await serve(new FakeDockerSource([], new SourceUnavailableError('no Docker socket at /var/run/docker.sock')));
    const { page, errors } = await openDashboard(s);
    await expect.poll(() => page.getByTestId('containers-empty').textContent(), { timeout: LIVE_WAIT_MS, interval: 100 }).toContain('No Docker or Podman engine');
    expect(await page.getByTestId('containers-empty').textContent()).toContain('no Docker socket at /var/run/docker.sock');
    expect(await page.getByTestId('containers-table').count()).toBe(0);
    expect(await page.getByTestId('containers-error').count()).toBe(0);
    expect(await page.getByTestId('container-count').count()).toBe(0);
    expect(errors).toEqual([]);
  }, 60_000);

  it('shows the engine error prominently, the last rows dimmed', async () => {
    const docker = new FakeDockerSource([db(), trainer()]);
    const s = await serve(docker);
    const { page, errors } = await openDashboard(s);
    await expect.poll(() => page.getByTestId('container-row').count(), { timeout: LIVE_WAIT_MS, interval: 100 }).toBe(2);
    docker.fail = new Error('connect ECONNREFUSED /var/run/docker.sock');
    await expect.poll(() => page.getByTestId('containers-error').textContent(), { timeout: LIVE_WAIT_MS, interval: 100 }).toContain('ECONNREFUSED');
    expect(await page.getByTestId('container-row').count()).toBe(2);
    expect(await page.locator('.ctr-scroll').getAttribute('class')).toContain('stale');
    expect(await page.getByTestId('source-error').count()).toBe(0); // said once
    expect(errors).toEqual([]);
  }, 60_000);
});
