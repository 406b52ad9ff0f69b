// @vitest-environment jsdom
/**
 * With several nodes publishing resource_status (a hub and its agents), the dashboard's overview, header and charts
 * keep showing the node the server is: a real LiveConnection over a fake transport that sends two nodes' snapshots.
 */
import { act } from 'react';
import { createRoot, type Root } from 'react-dom/client';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { App } from '../../web/src/App.tsx';
import { LiveConnection } from '../../web/src/live/connection.ts';
import { envelope, makeDeps, makeStatus } from './fakes.ts';

vi.mock('uplot', () => ({
  default: class FakePlot {
    setData() {}
    setSize() {}
    setSeries() {}
    destroy() {}
  },
}));

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

let container: HTMLDivElement;
let root: Root;

beforeEach(() => {
  vi.stubGlobal('fetch', vi.fn(async () => new Response('{}', { status: 404 })));
  container = document.createElement('div');
  document.body.append(container);
  root = createRoot(container);
});

afterEach(() => {
  act(() => root.unmount());
  container.remove();
  vi.unstubAllGlobals();
});

const text = (id: string) => container.querySelector(`[data-testid="${id}"]`)?.textContent ?? null;
const nodeName = () => container.querySelector('.node-name')?.textContent ?? null;

describe('the home node on a hub with agents', () => {
  it('keeps showing the home node\'s figures while another node publishes between them', async () => {
    const t = makeDeps();
    t.setHealthResult(() => Promise.resolve({ node: 'node-a' }));
    const conn = new LiveConnection(t.deps, { types: ['resource_status'] });
    const frame = async (f: () => void) => act(async () => {
      f();
      t.frames.flush();
    });
    await act(async () => {
      conn.start();
      root.render(<App source={conn} />);
    });
    await frame(() => t.ws.last.h.open());
    // the hub's backfill: another node's snapshot first, then the home node's
    await frame(() => {
      t.ws.last.h.envelope(envelope(1, makeStatus({ node: 'gpu-b', load: 77.7 })));
      t.ws.last.h.envelope(envelope(2, makeStatus({ node: 'node-a', load: 12.3 })));
    });
    expect(nodeName()).toBe('node-a');
    expect(text('cpu-total')).toBe('12.3 %');
    for (let i = 0; i < 3; i++) {
      const id = 3 + 2 * i;
      await frame(() => t.ws.last.h.envelope(envelope(id, makeStatus({ node: 'node-a', sampledAt: 1_700_000_001_000 + i * 1000, load: 20 + i }))));
      await frame(() => t.ws.last.h.envelope(envelope(id + 1, makeStatus({ node: 'gpu-b', sampledAt: 1_700_000_001_000 + i * 1000, load: 90 + i }))));
      expect(nodeName()).toBe('node-a');
      expect(text('cpu-total')).toBe(`${20 + i}.0 %`);
    }
    expect(conn.getNodes().latestByNode.get('gpu-b')?.data.host?.cpu.loadPercent).toBe(92);
    conn.stop();
  });
});
