// @vitest-environment jsdom
import { act } from 'react';
import { createRoot, type Root } from 'react-dom/client';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Gpu, GpuProcess, ResourceStatus, SourceStatus } from '../../shared/resources.ts';
import { App } from '../../web/src/App.tsx';
import { paths } from '../../web/src/components/Sparkline.tsx';
import type { LiveSnapshot } from '../../web/src/live/source.ts';
import { fakeGpu } from '../helpers/fake-gpu.ts';
import { StaticSource, envelope, makeStatus } from './fakes.ts';
import { FakeSchedulerApi, allocation, conflict } from './scheduler-fakes.ts';

vi.mock('uplot', () => import('./uplot-stub.ts'));

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

const T0 = 1_700_000_000_000;
let container: HTMLDivElement;
let root: Root;
const fetchMock = vi.fn();

beforeEach(() => {
  history.replaceState(null, '', '/gpus');
  fetchMock.mockReset();
  // history: two points a minute apart for every series asked for
  fetchMock.mockImplementation(async (url: string) => {
    const u = new URL(String(url), 'http://x');
    if (u.pathname !== '/api/history') return new Response('{}', { status: 404 });
    const names = u.searchParams.get('series')!.split(',');
    const series = names.map((name) => ({ name, t: [T0 - 120_000, T0 - 60_000], v: [10, 20] }));
    return new Response(JSON.stringify({ series }), { headers: { 'content-type': 'application/json' } });
  });
  vi.stubGlobal('fetch', fetchMock);
  container = document.createElement('div');
  document.body.append(container);
  root = createRoot(container);
});

afterEach(() => {
  act(() => root.unmount());
  container.remove();
  vi.unstubAllGlobals();
});

const byTestId = (id: string, el: ParentNode = container) => [...el.querySelectorAll(`[data-testid="${id}"]`)];
const text = (id: string, el: ParentNode = container) => byTestId(id, el)[0]?.textContent ?? null;
const card = (index: number) => container.querySelector<HTMLElement>(`[data-testid="gpu-card"][data-gpu-index="${index}"]`)!;

const ok = (over: Partial<SourceStatus> = {}): SourceStatus => ({
  status: 'ok', lastSampleAt: T0, lastErrorAt: null, consecutiveFailures: 0, nextRetryAt: null, ...over,
});

function statusWith(gpus: Gpu[], gpuSource: SourceStatus | null = ok(), sampledAt = T0): ResourceStatus {
  const s = makeStatus({ sampledAt });
  s.gpus = gpus;
  if (gpuSource) s.sources.gpu = gpuSource;
  return s;
}

function proc(pid: number, over: Partial<GpuProcess> = {}): GpuProcess {
  return {
    pid, name: `proc-${pid}`, type: 'C', usedMemoryMiB: 1024, gpuUuid: 'GPU-0', gpuIndex: 0,
    gpuInstanceId: null, computeInstanceId: null, user: 'ana', containerId: null, ...over,
  };
}

async function show(status: ResourceStatus) {
  const source = new StaticSource(liveSnapshot(status, 1));
  await act(async () => root.render(<App source={source} />));
  return source;
}

function liveSnapshot(status: ResourceStatus, id: number): LiveSnapshot {
  return { state: { kind: 'live', transport: 'websocket' }, lastEventId: id, latest: { resource_status: envelope(id, status) }, gaps: 0, lastGap: null };
}

async function settle() {
  await act(async () => {
    await new Promise((r) => setTimeout(r, 20));
  });
}

describe('GPU view', () => {
  it('shows a card per GPU with its figures, and — for what the driver does not report', async () => {
    await show(statusWith([
      fakeGpu(0, { name: 'NVIDIA A100-SXM4-80GB', utilizationGpuPercent: 87.25, memoryUsedMiB: 40_960, memoryTotalMiB: 81_920, temperatureC: 61.4, powerDrawW: 250.6, powerLimitW: 400, sampledAt: T0 }),
      fakeGpu(1, {
        name: 'NVIDIA T4', utilizationGpuPercent: null, memoryUsedMiB: null, memoryTotalMiB: 15_360, temperatureC: null,
        powerDrawW: null, powerLimitW: 70, fanPercent: null, pstate: null, clockSmMHz: null, health: 'warning', sampledAt: T0,
      }),
    ]));
    const cards = byTestId('gpu-card');
    expect(cards.map((c) => c.getAttribute('data-gpu-index'))).toEqual(['0', '1']);
    expect(text('gpu-count')).toBe('2 GPUs');

    const a = card(0);
    expect(a.querySelector('h3')?.textContent).toBe('NVIDIA A100-SXM4-80GB');
    expect(text('gpu-util', a)).toBe('87.3 %');
    expect(text('gpu-mem', a)).toBe('40.0 / 80.0 GiB');
    expect(text('gpu-temp', a)).toBe('61 °C');
    expect(text('gpu-power', a)).toBe('251 / 400 W');
    expect(a.querySelector('[role="meter"]')?.getAttribute('aria-valuenow')).toBe('87.3');

    const b = card(1);
    expect(b.getAttribute('data-health')).toBe('warning');
    expect(b.classList.contains('health-warning')).toBe(true);
    expect(text('gpu-util', b)).toBe('—');
    expect(text('gpu-mem', b)).toBe('— / 15.0 GiB');
    expect(text('gpu-temp', b)).toBe('—');
    expect(text('gpu-power', b)).toBe('— / 70 W');
    expect(b.querySelector('[role="meter"]')?.getAttribute('aria-valuetext')).toBe('not reported');
    expect(b.textContent).not.toMatch(/NaN|null|undefined/);

    const both = await (async () => {
      await show(statusWith([fakeGpu(0, { memoryUsedMiB: null, memoryTotalMiB: null, powerDrawW: null, powerLimitW: null })]));
      return card(0);
    })();
    expect(text('gpu-mem', both)).toBe('—');
    expect(text('gpu-power', both)).toBe('—');
    expect(text('gpu-count')).toBe('1 GPU');
  });

  it('draws the sparkline from history, then from live samples', async () => {
    const source = await show(statusWith([fakeGpu(0, { utilizationGpuPercent: 50, sampledAt: T0 })]));
    await settle();
    const url = String(fetchMock.mock.calls.find(([u]) => String(u).includes('gpu.0.util'))?.[0]);
    expect(url).toContain('series=gpu.0.util%2Cgpu.0.mem');
    expect(url).toContain(`sinceMs=${T0 - 600_000}`);
    const lines = () => [...card(0).querySelectorAll('.spark-line')].map((p) => p.getAttribute('d'));
    // history (2 points) + the current sample: three points on each line
    expect(lines()[0]!.match(/[ML]/g)).toHaveLength(3);
    expect(lines()[1]!.match(/[ML]/g)).toHaveLength(3);

    const next = statusWith([fakeGpu(0, { utilizationGpuPercent: 90, sampledAt: T0 + 1000 })], ok(), T0 + 1000);
    await act(async () => source.set(liveSnapshot(next, 2), [envelope(2, next)]));
    expect(lines()[0]!.match(/[ML]/g)).toHaveLength(4);
    expect(text('gpu-util', card(0))).toBe('90.0 %');
  });

  it('breaks the sparkline where there is no sample', () => {
    const { line, area } = paths([0, 1, 2, 3, 4], [0, 100, null, 50, 50], 0, 4, 100);
    expect(line).toBe('M0 46L75 2M225 24L300 24');
    expect(area.match(/Z/g)).toHaveLength(2);
    expect(paths([0], [10], -10, 10, 100).line).toMatch(/^M300 [\d.]+h0.01$/);
  });

  it('lists the processes: pid, user, container, memory; long names cut, full text in the title', async () => {
    const long = 'python train.py --model=llama, --batch=64, --lr=3e-4 --data=/datasets/a,b,c --output=/runs/2024-06-01/very/long/path';
    await show(statusWith([
      fakeGpu(0, {
        processes: [
          proc(4242, { name: long, usedMemoryMiB: 2048, user: 'ana', containerId: '0123456789abcdef0123456789abcdef' }),
          proc(77, { name: 'Xorg', type: 'G', usedMemoryMiB: null, user: null }),
          proc(4300, { name: 'a, b, c', usedMemoryMiB: 8192, user: 'bo' }),
        ],
      }),
    ]));
    const rows = byTestId('gpu-process', card(0)) as HTMLTableRowElement[];
    expect(rows.map((r) => r.getAttribute('data-pid'))).toEqual(['4300', '4242', '77']); // biggest first
    const cells = (r: HTMLTableRowElement) => [...r.cells].map((c) => c.textContent);
    expect(cells(rows[1]!)).toEqual(['4242', long, 'ana', '0123456789ab', '2.00 GiB']);
    expect(rows[1]!.cells[1]!.getAttribute('title')).toBe(long);
    expect(rows[1]!.cells[1]!.classList.contains('proc-name')).toBe(true);
    expect(rows[1]!.cells[3]!.getAttribute('title')).toBe('0123456789abcdef0123456789abcdef');
    expect(cells(rows[0]!)).toEqual(['4300', 'a, b, c', 'bo', '—', '8.00 GiB']);
    expect(cells(rows[2]!)).toEqual(['77', 'Xorg', '—', '—', '—']);
    expect(card(0).textContent).toContain('processes 3');
  });

  it('lists MIG instances', async () => {
    await show(statusWith([
      fakeGpu(0, {
        migMode: true,
        migInstances: [
          { gpuInstanceId: 1, computeInstanceId: 0, profile: '3g.40gb', memoryTotalMiB: 40_448, memoryUsedMiB: 10_240, smCount: 42 },
          { gpuInstanceId: 2, computeInstanceId: null, profile: null, memoryTotalMiB: null, memoryUsedMiB: null, smCount: null },
        ],
        processes: [proc(10, { gpuInstanceId: 1, computeInstanceId: 0 })],
      }),
      fakeGpu(1),
    ]));
    const mig = byTestId('mig-instance', card(0));
    expect(mig).toHaveLength(2);
    expect(mig[0]!.textContent).toContain('3g.40gb');
    expect(mig[0]!.textContent).toContain('GI 1 · CI 0');
    expect(mig[0]!.textContent).toContain('10.0 / 39.5 GiB');
    expect(mig[0]!.textContent).toContain('42 SM');
    expect(mig[1]!.textContent).toContain('GI 2');
    expect(mig[1]!.textContent).toContain('—');
    expect(byTestId('mig-instance', card(1))).toHaveLength(0);
    // processes on a MIG GPU say which instance they run in
    expect([...(byTestId('gpu-process', card(0))[0] as HTMLTableRowElement).cells].map((c) => c.textContent)).toContain('1/0');
  });

  it('says "No NVIDIA GPU" quietly when the gpu source is unavailable or absent', async () => {
    await show(statusWith([], { ...ok(), status: 'unavailable', message: 'nvidia-smi not found' }));
    expect(text('gpu-empty')).toBe('No NVIDIA GPU · nvidia-smi not found');
    expect(byTestId('gpu-card')).toHaveLength(0);
    expect(byTestId('gpu-error')).toHaveLength(0);
    expect(byTestId('gpu-count')).toHaveLength(0);
    expect(byTestId('source-error')).toHaveLength(0);

    await show(statusWith([], null));
    expect(text('gpu-empty')).toContain('No NVIDIA GPU');
  });

  it('waits for the first GPU sample instead of claiming there is none', async () => {
    await show(statusWith([], { ...ok(), status: 'starting', lastSampleAt: null }));
    expect(byTestId('gpu-empty')).toHaveLength(0);
    expect(container.textContent).toContain('waiting for first GPU sample');
  });

  it('shows the message prominently when nvidia-smi fails, keeping the last figures dimmed', async () => {
    const message = 'NVIDIA-SMI has failed because it couldn\'t communicate with the NVIDIA driver.';
    const failing = { ...ok(), status: 'error' as const, message, consecutiveFailures: 3, nextRetryAt: T0 + 8000 };
    await show(statusWith([], failing));
    expect(byTestId('gpu-error')[0]?.getAttribute('role')).toBe('alert');
    expect(text('gpu-error')).toContain(message);
    expect(byTestId('gpu-empty')).toHaveLength(0);
    // said once, in the GPU view, not again in the list of failing sources
    expect(byTestId('source-error')).toHaveLength(0);

    await show(statusWith([fakeGpu(0), fakeGpu(1)], failing));
    expect(text('gpu-error')).toContain(message);
    expect(byTestId('gpu-card')).toHaveLength(2);
    expect(container.querySelector('.gpu-grid')?.classList.contains('stale')).toBe(true);
  });

  it('shows a lost GPU\'s message in its card while the others keep reporting', async () => {
    await show(statusWith([
      fakeGpu(0),
      fakeGpu(1, {
        status: 'error', message: 'Unable to determine the device handle for GPU 0000:02:00.0: GPU is lost', health: 'error',
        utilizationGpuPercent: null, memoryUsedMiB: null, temperatureC: null, powerDrawW: null,
      }),
    ]));
    expect(byTestId('gpu-lost', card(0))).toHaveLength(0);
    const lost = card(1);
    expect(lost.getAttribute('data-status')).toBe('error');
    expect(lost.getAttribute('data-health')).toBe('error');
    expect(text('gpu-lost', lost)).toBe('Unable to determine the device handle for GPU 0000:02:00.0: GPU is lost');
    expect(text('gpu-util', lost)).toBe('—');
    expect(text('gpu-util', card(0))).toBe('40.0 %');
    expect(byTestId('gpu-error')).toHaveLength(0);
  });

  it('names who holds each GPU (owner, since, lease left) and highlights use without an allocation', async () => {
    vi.useFakeTimers({ toFake: ['Date', 'setInterval', 'clearInterval'] });
    try {
      vi.setSystemTime(T0 + 60_000);
      const api = new FakeSchedulerApi();
      api.active = [allocation('al1', 'r1', { gpuIndices: [0], grantedAt: T0, leaseExpiresAt: T0 + 60_000 + 125_000, owner: 'ana' })];
      api.conflictsOpen = [conflict('u1', null, {
        key: 'unmanaged:gpu:1', type: 'schedule_conflict', resource: 'gpu:1',
        holders: [{ kind: 'process', pid: 4242, containerId: null, name: 'python rogue.py', gpuIndex: 1, usedMemoryMiB: 2048, allocationId: null }],
      })];
      const status = statusWith([fakeGpu(0, { sampledAt: T0 }), fakeGpu(1, { sampledAt: T0, processes: [proc(4242, { gpuIndex: 1, gpuUuid: 'GPU-1' }), proc(7, { gpuIndex: 1, gpuUuid: 'GPU-1' })] })]);
      await act(async () => root.render(<App source={new StaticSource(liveSnapshot(status, 1))} schedulerApi={api} />));
      for (let i = 0; i < 5; i++) await act(async () => undefined);

      const holder = card(0).querySelector('[data-testid="gpu-holder"]')!;
      expect(holder.getAttribute('data-owner')).toBe('ana');
      // the owner came with the allocation: no request was asked for
      expect(api.calls.filter((c) => c.startsWith('request:'))).toEqual([]);
      expect(holder.textContent).toMatch(/^ana since .+ lease 2m 05s left$/);
      expect(holder.querySelector('a')?.getAttribute('href')).toBe('/scheduler#allocation-al1');
      await act(async () => vi.advanceTimersByTime(2000));
      expect(holder.querySelector('[data-testid="time-left"]')?.textContent).toBe('2m 03s');
      expect(byTestId('gpu-unmanaged', card(0))).toHaveLength(0);

      expect(text('gpu-unmanaged', card(1))).toBe('unmanaged use python rogue.py (pid 4242) uses GPU 1 without an allocation');
      expect(card(1).className).toContain('gpu-card-unmanaged');
      const rows = byTestId('gpu-process', card(1));
      expect(rows.map((r) => [r.getAttribute('data-pid'), r.getAttribute('data-unmanaged')])).toEqual([['4242', 'true'], ['7', null]]);
      expect(card(1).querySelector('[data-testid="gpu-holding"]')?.textContent).not.toContain('no allocation');
    } finally {
      vi.useRealTimers();
    }
  });
});
