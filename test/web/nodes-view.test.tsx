// @vitest-environment jsdom
/**
 * The dashboard with several nodes: the overview lists every node (health, reachability with "last seen" for an
 * unreachable one, GPUs, capacity vs allocated); GPU tiles and cards are labelled with their node and grouped by
 * node, each card with its own node's allocations and unmanaged use; the node filter (kept in `?node=`, so a
 * reload keeps it) leaves one node's tiles, cards, containers and host panels. With one node, none of it shows.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ResourceStatus } from '../../shared/resources.ts';
import { App } from '../../web/src/App.tsx';
import type { LiveSnapshot } from '../../web/src/live/source.ts';
import { fakeContainer } from '../helpers/fake-docker.ts';
import { fakeGpu } from '../helpers/fake-gpu.ts';
import { click, mount, type Mounted } from './dom.ts';
import { FakeClock, StaticSource, envelope, makeStatus } from './fakes.ts';
import { FakeNodesApi, nodeView, nodesSnapshot } from './nodes-fakes.ts';
import { FakeSchedulerApi, allocation, conflict } from './scheduler-fakes.ts';

vi.mock('uplot', () => import('./uplot-stub.ts'));

let m: Mounted | undefined;

beforeEach(() => {
  // "last seen … ago" is read against the clock: a fixed one
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(1_700_000_100_000);
  vi.stubGlobal('fetch', vi.fn(async () => new Response(JSON.stringify({ series: [] }), { headers: { 'content-type': 'application/json' } })));
});

afterEach(() => {
  m?.unmount();
  m = undefined;
  vi.unstubAllGlobals();
  vi.useRealTimers();
  history.replaceState(null, '', '/');
});

const all = (sel: string, el: ParentNode = m!.container) => [...el.querySelectorAll<HTMLElement>(sel)];
const byTestId = (id: string, el: ParentNode = m!.container) => all(`[data-testid="${id}"]`, el);
const text = (id: string, el: ParentNode = m!.container) => byTestId(id, el)[0]?.textContent ?? null;
const labels = (sel: string) => all(sel).map((e) => e.textContent);

function node(name: string, gpus: number, load: number): ResourceStatus {
  const s = makeStatus({ node: name, load });
  s.gpus = Array.from({ length: gpus }, (_, i) => fakeGpu(i, { uuid: `GPU-${name}-${i}`, sampledAt: s.sampledAt }));
  s.containers = [fakeContainer(`web-${name}`, { id: `${name}-c1`.padEnd(64, '0') })];
  return s;
}

function live(status: ResourceStatus): LiveSnapshot {
  return { state: { kind: 'live', transport: 'websocket' }, lastEventId: 2, latest: { resource_status: envelope(1, status) }, gaps: 0, lastGap: null };
}

/** A hub `hub` (one GPU) and an agent's node `gpu-b` (two GPUs, warning), `gpu-b` unreachable unless told otherwise. */
async function showTwoNodes(path: string, gpuBReachable = false) {
  history.replaceState(null, '', path);
  const hub = node('hub', 1, 11.1);
  const b = node('gpu-b', 2, 77.7);
  b.health = 'warning';
  const source = new StaticSource(live(hub));
  source.nodes = nodesSnapshot('hub', [[1, hub], [2, b]]);
  const nodesApi = new FakeNodesApi();
  nodesApi.nodes = [
    nodeView('hub', { local: true, capacity: { cpu: 4000, memoryMiB: 8192, gpus: 1 }, allocated: { cpu: 0, memoryMiB: 0, gpus: 0, gpuMemMiB: 0, allocations: 0 } }),
    nodeView('gpu-b', gpuBReachable ? {} : { status: 'unreachable', connected: false, lastSeenAt: Date.now() - 40_000 }),
  ];
  const schedulerApi = new FakeSchedulerApi();
  schedulerApi.active = [allocation('al1', 'r1', { node: 'gpu-b', gpuIndices: [0], owner: 'cy' })];
  schedulerApi.conflictsOpen = [conflict('u1', null, { key: 'unmanaged:gpu:1@gpu-b', type: 'schedule_conflict', resource: 'gpu:1', node: 'gpu-b' })];
  const clock = new FakeClock();
  const timers = { now: () => clock.now, setTimeout: clock.setTimeout, clearTimeout: clock.clearTimeout };
  m = await mount(<App source={source} nodesApi={nodesApi} schedulerApi={schedulerApi} timers={timers} />);
  return { source, nodesApi };
}

const filterButton = (name: string) => all('[data-testid="node-filter"] button').find((b) => b.textContent === name);

describe('several nodes on the dashboard', () => {
  it('lists every node in the overview: health, reachability (unreachable with last seen), GPUs, allocated of capacity', async () => {
    const { nodesApi } = await showTwoNodes('/');
    expect(nodesApi.calls).toBe(1);
    const rows = byTestId('node-row');
    expect(rows.map((r) => r.getAttribute('data-node'))).toEqual(['hub', 'gpu-b']);
    const [hub, b] = rows as [HTMLElement, HTMLElement];
    expect(hub.querySelector('th')?.textContent).toBe('hub · this server');
    expect(hub.querySelector('.badge')?.getAttribute('data-health')).toBe('healthy');
    expect(text('node-reachability', hub)).toBe('reachable');
    expect(b.querySelector('.badge')?.getAttribute('data-health')).toBe('warning');
    const reach = byTestId('node-reachability', b)[0]!;
    expect(reach.getAttribute('data-reachability')).toBe('unreachable');
    expect(reach.textContent).toBe('unreachable · last seen 40s ago');
    expect(b.className).toContain('node-lost');
    expect([text('node-gpus', b), text('node-gpus-allocated', b), text('node-cpu-allocated', b), text('node-memory-allocated', b)])
      .toEqual(['2', '1 / 2', '1.5 / 8 cores', '4.00 GiB / 32.0 GiB']);
    expect([text('node-gpus', hub), text('node-gpus-allocated', hub), text('node-cpu-allocated', hub)]).toEqual(['1', '0 / 1', '0 / 4 cores']);
    expect(text('node-list')).toContain('2 nodes · 1 unreachable');

    // every GPU tile names its node; the host panels are the home node's
    expect(labels('[data-testid="tile-gpu"] .tile-label')).toEqual(['hub · GPU 0', 'gpu-b · GPU 0', 'gpu-b · GPU 1']);
    expect(text('host-node')).toBe('Host · hub');
    expect(text('cpu-total')).toBe('11.1 %');
  });

  it('filters tiles and host panels by node from the filter bar, the node list, and the URL', async () => {
    await showTwoNodes('/');
    expect(labels('[data-testid="node-filter"] button')).toEqual(['All nodes', 'hub', 'gpu-b']);
    expect(filterButton('All nodes')?.getAttribute('aria-pressed')).toBe('true');

    await click(filterButton('gpu-b'));
    expect(location.search).toBe('?node=gpu-b');
    expect(filterButton('gpu-b')?.getAttribute('aria-pressed')).toBe('true');
    expect(labels('[data-testid="tile-gpu"] .tile-label')).toEqual(['gpu-b · GPU 0', 'gpu-b · GPU 1']);
    expect(all('[data-testid="tile-gpu"]')[0]?.getAttribute('href')).toBe('/gpus?node=gpu-b#gpu-gpu-b-0');
    expect(text('host-node')).toBe('Host · gpu-b');
    expect(text('cpu-total')).toBe('77.7 %');
    // the nav keeps the filter on the views it applies to
    expect(m!.container.querySelector('[data-testid="nav-gpus"]')?.getAttribute('href')).toBe('/gpus?node=gpu-b');
    expect(m!.container.querySelector('[data-testid="nav-scheduler"]')?.getAttribute('href')).toBe('/scheduler');

    // the node list's name toggles it too
    await click(all('[data-testid="node-row"][data-node="hub"] button')[0]);
    expect(location.search).toBe('?node=hub');
    expect(labels('[data-testid="tile-gpu"] .tile-label')).toEqual(['hub · GPU 0']);
    await click(all('[data-testid="node-row"][data-node="hub"] button')[0]);
    expect(location.search).toBe('');
    expect(byTestId('tile-gpu')).toHaveLength(3);
  });

  it('groups the GPU view by node with labelled cards and each node\'s allocations; a reload keeps the filter; a silent node\'s GPUs are dimmed', async () => {
    await showTwoNodes('/gpus', true);
    const groups = byTestId('gpu-group');
    expect(groups.map((g) => [g.getAttribute('data-node'), g.querySelector('h2')?.textContent])).toEqual([['hub', 'GPUs · hub'], ['gpu-b', 'GPUs · gpu-b']]);
    expect(text('node-reachability', groups[1])).toBe('reachable');
    expect(labels('[data-testid="gpu-card"] [data-testid="gpu-label"]')).toEqual(['hub · GPU 0', 'gpu-b · GPU 0', 'gpu-b · GPU 1']);
    const card = (n: string, i: number) => m!.container.querySelector<HTMLElement>(`[data-testid="gpu-card"][data-node="${n}"][data-gpu-index="${i}"]`)!;
    expect(card('gpu-b', 0).id).toBe('gpu-gpu-b-0');
    expect(card('hub', 0).id).toBe('gpu-0');
    // gpu-b's allocation and unmanaged use are on gpu-b's cards, not on the hub's GPU of the same index
    expect(byTestId('gpu-holder', card('gpu-b', 0)).map((h) => h.getAttribute('data-owner'))).toEqual(['cy']);
    expect(byTestId('gpu-holder', card('hub', 0))).toHaveLength(0);
    expect(byTestId('gpu-unmanaged', card('gpu-b', 1))).toHaveLength(1);
    // the home node's GPUs have history; another node's have none to draw
    expect(byTestId('gpu-sparkline', card('hub', 0))).toHaveLength(1);
    expect(byTestId('gpu-sparkline', card('gpu-b', 0))).toHaveLength(0);

    expect(all('.gpu-grid.stale')).toHaveLength(0);

    // opened again with the filter in the URL (a reload), gpu-b gone silent meanwhile: its last figures dimmed
    m!.unmount();
    await showTwoNodes('/gpus?node=gpu-b');
    expect(byTestId('gpu-group').map((g) => g.getAttribute('data-node'))).toEqual(['gpu-b']);
    expect(labels('[data-testid="gpu-label"]')).toEqual(['gpu-b · GPU 0', 'gpu-b · GPU 1']);
    expect(text('node-reachability', byTestId('gpu-group')[0])).toBe('unreachable · last seen 40s ago');
    expect(all('.gpu-grid.stale')).toHaveLength(1);
    await click(filterButton('All nodes'));
    expect(location.search).toBe('');
    expect(byTestId('gpu-group')).toHaveLength(2);
  });

  it('shows the containers per node, filtered by node', async () => {
    await showTwoNodes('/containers?node=hub');
    expect(byTestId('containers').map((c) => [c.getAttribute('data-node'), c.querySelector('h2')?.textContent])).toEqual([['hub', 'Containers · hub']]);
    await click(filterButton('All nodes'));
    const panels = byTestId('containers');
    expect(panels.map((c) => c.getAttribute('data-node'))).toEqual(['hub', 'gpu-b']);
    expect(panels[1]!.textContent).toContain('web-gpu-b');
    expect(panels[1]!.textContent).not.toContain('web-hub');
    expect(text('node-reachability', panels[1])).toMatch(/^unreachable · last seen/);
  });

  it('with one node: no node list, no filter, GPU cards and tiles labelled as before', async () => {
    history.replaceState(null, '', '/');
    const only = node('solo', 2, 20);
    const source = new StaticSource(live(only));
    source.nodes = nodesSnapshot('solo', [[1, only]]);
    const nodesApi = new FakeNodesApi();
    nodesApi.nodes = [nodeView('solo', { local: true })];
    m = await mount(<App source={source} nodesApi={nodesApi} schedulerApi={new FakeSchedulerApi()} />);
    expect(byTestId('node-list')).toHaveLength(0);
    expect(byTestId('node-filter')).toHaveLength(0);
    expect(byTestId('host-node')).toHaveLength(0);
    expect(labels('[data-testid="tile-gpu"] .tile-label')).toEqual(['GPU 0', 'GPU 1']);
    expect(all('[data-testid="tile-gpu"]')[0]?.getAttribute('href')).toBe('/gpus#gpu-0');

    await click(m!.container.querySelector<HTMLElement>('[data-testid="nav-gpus"]')!);
    expect(labels('[data-testid="gpu-label"]')).toEqual(['GPU 0', 'GPU 1']);
    expect(byTestId('gpu-group').map((g) => [g.getAttribute('data-node'), g.querySelector('h2')?.textContent])).toEqual([[null, 'GPUs']]);
  });
});
