/**
 * The nodes store and the node rows: GET /api/nodes read while watched, again every poll interval, and at once when
 * a snapshot arrives from a node it did not list or listed as unreachable; the rows merge that list with the live
 * snapshots; the node filter in the query string keeps the other parameters. Manual clock: no test waits for time.
 */
import { describe, expect, it } from 'vitest';
import { NodesStore } from '../../web/src/nodes/store.ts';
import { filterRows, nodeFilterOf, nodeLink, nodeRows, withNodeFilter } from '../../web/src/nodes/rows.ts';
import { FakeClock, StaticSource, envelope, makeStatus } from './fakes.ts';
import { FakeNodesApi, nodeView, nodesSnapshot } from './nodes-fakes.ts';
import { liveSnapshot } from './scheduler-fakes.ts';

const flush = () => new Promise((r) => setImmediate(r));

function setup() {
  const clock = new FakeClock();
  const api = new FakeNodesApi();
  const source = new StaticSource(liveSnapshot());
  source.nodes = nodesSnapshot('hub', [[1, makeStatus({ node: 'hub' })], [2, makeStatus({ node: 'gpu-b' })]]);
  const store = new NodesStore(source, { api, now: () => clock.now, setTimeout: clock.setTimeout, clearTimeout: clock.clearTimeout }, { pollMs: 5000, minIntervalMs: 1000 });
  /** a new snapshot of `node` arrives (envelope `id`) */
  const arrive = (node: string, id: number) => {
    const latest = new Map(source.nodes.latestByNode);
    latest.set(node, envelope(id, makeStatus({ node })));
    source.nodes = { ...source.nodes, latestByNode: latest };
    source.set(source.snapshot);
  };
  return { clock, api, source, store, arrive };
}

describe('NodesStore', () => {
  it('reads only while watched: at once, then every poll interval; not after the release', async () => {
    const { clock, api, store } = setup();
    api.nodes = [nodeView('hub', { local: true }), nodeView('gpu-b')];
    store.start();
    await flush();
    expect(api.calls).toBe(0);
    const release = store.watch();
    await flush();
    expect(api.calls).toBe(1);
    expect(store.getSnapshot().views?.map((v) => v.name)).toEqual(['hub', 'gpu-b']);
    clock.advance(4999);
    expect(api.calls).toBe(1);
    clock.advance(1);
    await flush();
    expect(api.calls).toBe(2);
    release();
    clock.advance(60_000);
    await flush();
    expect(api.calls).toBe(2);
    store.stop();
  });

  it('reads again when an unreachable or unlisted node reports, not for a reachable one; keeps the last answer on a failure', async () => {
    const { clock, api, store, arrive } = setup();
    api.nodes = [nodeView('hub', { local: true }), nodeView('gpu-b', { status: 'unreachable', lastSeenAt: clock.now - 40_000 })];
    store.start();
    store.watch();
    await flush();
    expect(api.calls).toBe(1);

    clock.advance(1000);
    api.nodes = [nodeView('hub', { local: true }), nodeView('gpu-b')];
    arrive('gpu-b', 10); // the unreachable node is back
    await flush();
    expect(api.calls).toBe(2);
    expect(store.getSnapshot().views?.find((v) => v.name === 'gpu-b')?.status).toBe('reachable');

    clock.advance(1000);
    arrive('gpu-b', 11); // reachable now: the poll will do
    arrive('hub', 12);
    await flush();
    expect(api.calls).toBe(2);

    clock.advance(1000);
    arrive('gpu-c', 13); // a node the list does not have yet
    await flush();
    expect(api.calls).toBe(3);

    api.answer = () => Promise.reject(new Error('connection refused'));
    clock.advance(5000);
    await flush();
    expect(api.calls).toBe(4);
    expect(store.getSnapshot().error).toBe('connection refused');
    expect(store.getSnapshot().views?.map((v) => v.name)).toEqual(['hub', 'gpu-b']);
    store.stop();
  });
});

describe('node rows and the node filter', () => {
  it('lists the API\'s nodes in its order, then nodes only the push has shown (home first, then by name)', () => {
    const live = nodesSnapshot('hub', [[1, makeStatus({ node: 'zeta' })], [2, makeStatus({ node: 'hub' })], [3, makeStatus({ node: 'alpha' })]]);
    expect(nodeRows(live, null).map((r) => [r.name, r.home])).toEqual([['hub', true], ['alpha', false], ['zeta', false]]);
    const rows = nodeRows(live, [nodeView('hub', { local: true }), nodeView('zeta'), nodeView('gone', { status: 'unreachable' })]);
    expect(rows.map((r) => [r.name, r.home, r.status !== null, r.view?.status ?? null])).toEqual([
      ['hub', true, true, 'reachable'], ['zeta', false, true, 'reachable'], ['gone', false, false, 'unreachable'], ['alpha', false, true, null],
    ]);
    expect(rows[0]!.health).toBe('healthy');
    expect(rows[2]!.health).toBeNull();
    expect(filterRows(rows, 'zeta').map((r) => r.name)).toEqual(['zeta']);
    expect(filterRows(rows, null)).toBe(rows);
  });

  it('keeps the filter in the query string beside other parameters', () => {
    expect(nodeFilterOf('?node=gpu-b&x=1')).toBe('gpu-b');
    expect(nodeFilterOf('?node=')).toBeNull();
    expect(nodeFilterOf('')).toBeNull();
    expect(withNodeFilter('?x=1', 'gpu-b')).toBe('?x=1&node=gpu-b');
    expect(withNodeFilter('?x=1&node=gpu-b', null)).toBe('?x=1');
    expect(withNodeFilter('?node=gpu-b', null)).toBe('');
    expect(nodeLink('/gpus', 'gpu.b-1', 'gpu-gpu.b-1-0')).toBe('/gpus?node=gpu.b-1#gpu-gpu.b-1-0');
    expect(nodeLink('/', null)).toBe('/');
  });
});
