// @vitest-environment jsdom
import { act } from 'react';
import { createRoot, type Root } from 'react-dom/client';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { App } from '../../web/src/App.tsx';
import type { LiveSnapshot } from '../../web/src/live/source.ts';
import { StaticSource, envelope, makeStatus } from './fakes.ts';

const plots = vi.hoisted(() => [] as { data: unknown[]; destroyed: boolean; series: Map<number, boolean> }[]);
vi.mock('uplot', () => ({
  default: class FakePlot {
    rec = { data: [] as unknown[], destroyed: false, series: new Map<number, boolean>() };
    constructor(_opts: unknown, data: unknown[]) {
      this.rec.data = data;
      plots.push(this.rec);
    }
    setData(d: unknown[]) {
      this.rec.data = d;
    }
    setSize() {}
    setSeries(i: number, o: { show: boolean }) {
      this.rec.series.set(i, o.show);
    }
    destroy() {
      this.rec.destroyed = true;
    }
  },
}));

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

let container: HTMLDivElement;
let root: Root;
const fetchMock = vi.fn();

beforeEach(() => {
  plots.length = 0;
  fetchMock.mockReset();
  fetchMock.mockImplementation(async (url: string) => {
    if (String(url).startsWith('/api/history')) {
      return new Response(JSON.stringify({ series: [{ name: 'net.eth0.rx', t: [1_699_999_990_000], v: [100] }] }), {
        headers: { 'content-type': 'application/json' },
      });
    }
    return new Response('{}', { status: 404 });
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

function snapshot(over: Partial<LiveSnapshot> = {}): LiveSnapshot {
  return { state: { kind: 'live', transport: 'websocket' }, lastEventId: 1, latest: {}, gaps: 0, lastGap: null, ...over };
}

const byTestId = (id: string) => [...container.querySelectorAll(`[data-testid="${id}"]`)];
const text = (id: string) => byTestId(id)[0]?.textContent ?? null;

async function settle() {
  await act(async () => {
    await new Promise((r) => setTimeout(r, 20));
  });
}

describe('dashboard', () => {
  it('shows CPU, cores, memory, disks with health, and the connection', async () => {
    const source = new StaticSource(snapshot({ latest: { resource_status: envelope(1) } }));
    await act(async () => root.render(<App source={source} />));
    expect(text('connection')).toContain('WebSocket live');
    expect(text('cpu-total')).toBe('12.3 %');
    expect(byTestId('cpu-core')).toHaveLength(4);
    expect(byTestId('cpu-core')[2]?.getAttribute('aria-valuenow')).toBe('30');
    expect(text('memory')).toContain('50.0 %');
    expect(text('memory')).toContain('8.00 GiB / 16.0 GiB');
    const disks = byTestId('disk');
    expect(disks).toHaveLength(2);
    expect(disks[0]?.getAttribute('data-health')).toBe('critical');
    expect(disks[0]?.querySelector('.meter')?.classList.contains('health-critical')).toBe(true);
    expect(byTestId('network-chart')).toHaveLength(1);
    expect(text('network-chart')).toContain('eth0');
    expect(text('network-chart')).toContain('2.00 KiB/s');

    // next sample: figures change in place
    const next = envelope(2, makeStatus({ sampledAt: 1_700_000_001_000, load: 55.55, cores: [90, 10, 0, 100], rx: 4096 }));
    await act(async () => source.set(snapshot({ lastEventId: 2, latest: { resource_status: next } }), [next]));
    expect(text('cpu-total')).toBe('55.5 %');
    expect(byTestId('cpu-core')[3]?.getAttribute('aria-valuenow')).toBe('100');
  });

  it('draws the network chart from history and appends live points', async () => {
    const source = new StaticSource(snapshot({ latest: { resource_status: envelope(1) } }));
    await act(async () => root.render(<App source={source} />));
    await settle();
    const url = String(fetchMock.mock.calls.find(([u]) => String(u).startsWith('/api/history'))?.[0]);
    expect(url).toContain('series=net.eth0.rx%2Cnet.eth0.tx');
    expect(url).toContain(`sinceMs=${1_700_000_000_000 - 600_000}`);
    expect(plots).toHaveLength(1);
    expect(plots[0]!.data).toEqual([[1_699_999_990, 1_700_000_000], [100, 2048], [null, 512]]);
    const next = envelope(2, makeStatus({ sampledAt: 1_700_000_001_000, rx: 4096 }));
    await act(async () => source.set(snapshot({ lastEventId: 2, latest: { resource_status: next } }), [next]));
    expect(plots[0]!.data[0]).toEqual([1_699_999_990, 1_700_000_000, 1_700_000_001]);
    expect(plots[0]!.data[1]).toEqual([100, 2048, 4096]);
    // the legend toggles an interface from the keyboard-reachable button
    const button = container.querySelector<HTMLButtonElement>('.legend-item')!;
    expect(button.getAttribute('aria-pressed')).toBe('true');
    await act(async () => button.click());
    expect(button.getAttribute('aria-pressed')).toBe('false');
    expect(plots[0]!.series.get(1)).toBe(false);
    expect(plots[0]!.series.get(2)).toBe(false);
  });

  it('shows placeholders before the first sample without the figures jumping', async () => {
    const source = new StaticSource(snapshot({ state: { kind: 'connecting', transport: 'websocket' }, lastEventId: 0 }));
    await act(async () => root.render(<App source={source} />));
    expect(text('connection')).toContain('connecting');
    expect(text('cpu-total')).toBe('– %');
    expect(byTestId('cpu-core')).toHaveLength(0);
    expect(container.textContent).toContain('waiting for first sample');
  });

  it('counts down while reconnecting and offers a retry', async () => {
    vi.useFakeTimers({ toFake: ['Date', 'setInterval', 'clearInterval'] });
    try {
      const now = Date.now();
      const source = new StaticSource(snapshot({ state: { kind: 'reconnecting', retryAt: now + 4200, attempt: 3 } }));
      await act(async () => root.render(<App source={source} />));
      expect(text('connection')).toContain('reconnecting (in 5s)');
      await act(async () => vi.advanceTimersByTime(1250));
      expect(text('connection')).toContain('reconnecting (in 3s)');
      const retry = [...container.querySelectorAll('button')].find((b) => b.textContent === 'retry now')!;
      await act(async () => retry.click());
      expect(source.retries).toBe(1);
    } finally {
      vi.useRealTimers();
    }
  });

  it('labels the SSE fallback', async () => {
    const source = new StaticSource(snapshot({ state: { kind: 'live', transport: 'sse' } }));
    await act(async () => root.render(<App source={source} />));
    expect(text('connection')).toContain('SSE fallback');
  });

  it('tells the user how to authenticate after a 401', async () => {
    const source = new StaticSource(snapshot({ state: { kind: 'unauthenticated' } }));
    await act(async () => root.render(<App source={source} />));
    expect(container.textContent).toContain('open the URL printed at start-up (with ?token=…)');
    expect(byTestId('cpu-total')).toHaveLength(0);
  });

  it('lists monitor sources in error', async () => {
    const status = makeStatus();
    status.sources.host = { ...status.sources.host!, status: 'error', message: 'statfs failed' };
    const source = new StaticSource(snapshot({ latest: { resource_status: envelope(1, status) } }));
    await act(async () => root.render(<App source={source} />));
    expect(text('source-error')).toContain('host source error: statfs failed');
  });
});
