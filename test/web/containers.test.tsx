// @vitest-environment jsdom
import { act } from 'react';
import { createRoot, type Root } from 'react-dom/client';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Container, ResourceStatus, SourceStatus } from '../../shared/resources.ts';
import { App } from '../../web/src/App.tsx';
import { filterContainers, sortContainers } from '../../web/src/lib/containers.ts';
import type { LiveSnapshot } from '../../web/src/live/source.ts';
import { fakeContainer } from '../helpers/fake-docker.ts';
import { fakeGpu } from '../helpers/fake-gpu.ts';
import { StaticSource, envelope, makeStatus } from './fakes.ts';

vi.mock('uplot', () => import('./uplot-stub.ts'));

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

const T0 = 1_700_000_000_000;
let container: HTMLDivElement;
let root: Root;

beforeEach(() => {
  history.replaceState(null, '', '/containers');
  vi.stubGlobal('fetch', vi.fn(async () => new Response(JSON.stringify({ series: [] }), { headers: { 'content-type': 'application/json' } })));
  container = document.createElement('div');
  document.body.append(container);
  root = createRoot(container);
});

afterEach(() => {
  act(() => root.unmount());
  container.remove();
  vi.unstubAllGlobals();
});

const byTestId = (id: string, el: ParentNode = container) => [...el.querySelectorAll<HTMLElement>(`[data-testid="${id}"]`)];
const text = (id: string, el: ParentNode = container) => byTestId(id, el)[0]?.textContent ?? null;
const names = () => byTestId('container-row').map((r) => r.getAttribute('data-container-name'));
const row = (name: string) => container.querySelector<HTMLTableRowElement>(`[data-testid="container-row"][data-container-name="${name}"]`)!;
const header = (label: string) => [...container.querySelectorAll<HTMLTableCellElement>('[data-testid="containers-table"] thead th')].find((th) => th.textContent?.startsWith(label))!;

const dockerOk = (over: Partial<SourceStatus> = {}): SourceStatus => ({
  status: 'ok', lastSampleAt: T0, lastErrorAt: null, consecutiveFailures: 0, nextRetryAt: null, ...over,
});

function statusWith(containers: Container[], docker: SourceStatus | null = dockerOk()): ResourceStatus {
  const s = makeStatus({ sampledAt: T0 });
  s.containers = containers;
  if (docker) s.sources.docker = docker;
  return s;
}

function liveSnapshot(status: ResourceStatus, id: number): LiveSnapshot {
  return { state: { kind: 'live', transport: 'websocket' }, lastEventId: id, latest: { resource_status: envelope(id, status) }, gaps: 0, lastGap: null };
}

async function show(status: ResourceStatus) {
  const source = new StaticSource(liveSnapshot(status, 1));
  await act(async () => root.render(<App source={source} />));
  return source;
}

async function click(el: HTMLElement) {
  await act(async () => el.click());
}

/** Type into a React-controlled input. */
async function type(input: HTMLInputElement, value: string) {
  const setter = Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value')!.set!;
  await act(async () => {
    setter.call(input, value);
    input.dispatchEvent(new Event('input', { bubbles: true }));
  });
}

const three = () => [
  fakeContainer('alpha', { cpuPercent: 12.5, image: 'postgres:16', labels: { team: 'data' } }),
  fakeContainer('Bravo', { cpuPercent: null, state: 'exited', statusText: 'Exited (0) 3 minutes ago', memoryUsedMiB: null, memoryPercent: null }),
  fakeContainer('charlie', { cpuPercent: 250, image: 'nvcr.io/nvidia/pytorch:24.05-py3', labels: { team: 'ml', 'com.example.owner': 'Ana' } }),
];

describe('containers table', () => {
  it('shows a row per container with state, CPU, memory, network, GPUs and health', async () => {
    await show(statusWith([
      fakeContainer('trainer', {
        image: 'nvcr.io/nvidia/pytorch:24.05-py3', cpuPercent: 387.25, memoryUsedMiB: 25_088, memoryLimitMiB: 65_536, memoryPercent: 38.28,
        netRxBytesPerSec: 1_258_291, netTxBytesPerSec: 307_200, health: 'warning', healthcheck: 'unhealthy', restartCount: 2,
        gpus: [{ index: 0, uuid: 'GPU-0', via: 'device_request' }, { index: 1, uuid: 'GPU-1', via: 'process' }],
      }),
      fakeContainer('db', { state: 'exited', statusText: 'Exited (137) 5 seconds ago', cpuPercent: null, memoryUsedMiB: null, memoryLimitMiB: null, memoryPercent: null, netRxBytesPerSec: null, netTxBytesPerSec: null }),
    ]));
    expect(byTestId('containers-table')).toHaveLength(1);
    expect(names()).toEqual(['db', 'trainer']); // by name at first
    expect(text('containers-count')).toBe('2 of 2');

    const t = row('trainer');
    expect(t.getAttribute('data-state')).toBe('running');
    expect(text('container-state', t)).toBe('running');
    expect(byTestId('container-state', t)[0]!.className).toContain('state-running');
    expect(text('container-cpu', t)).toBe('387.3 %');
    expect(text('container-mem', t)).toBe('24.5 GiB / 64.0 GiB');
    expect(t.querySelector('[role="meter"]')?.getAttribute('aria-valuenow')).toBe('38.3');
    expect(t.textContent).toContain('38.3 %');
    expect(text('container-net', t)).toBe('↓ 1.20 MiB/s ↑ 300 KiB/s');
    expect(t.textContent).toContain('Up 2 minutes · 2 restarts');
    expect(t.querySelector('.col-image')?.getAttribute('title')).toBe('nvcr.io/nvidia/pytorch:24.05-py3');
    const badge = t.querySelector<HTMLElement>('.col-health .badge')!;
    expect(badge.getAttribute('data-health')).toBe('warning');
    expect(badge.textContent).toBe('warning');
    expect(t.querySelector('.col-health')?.getAttribute('title')).toBe('HEALTHCHECK: unhealthy');

    const d = row('db');
    expect(text('container-state', d)).toBe('exited');
    expect(text('container-cpu', d)).toBe('—');
    expect(text('container-mem', d)).toBe('—');
    expect(text('container-net', d)).toBe('↓ — ↑ —');
    expect(d.querySelector('[role="meter"]')?.getAttribute('aria-valuetext')).toBe('not reported');
    expect(container.textContent).not.toMatch(/NaN|null|undefined/);
    // the header summary counts them
    expect(text('container-count')).toBe('2 containers');
    expect(byTestId('container-count')[0]!.getAttribute('title')).toBe('1 running');
  });

  it('shows GPUs as chips with how we know in the tooltip', async () => {
    await show(statusWith([
      fakeContainer('a', { gpus: [{ index: 0, uuid: 'GPU-aaaa', via: 'device_request' }, { index: 3, uuid: null, via: 'env' }, { index: null, uuid: 'GPU-1234567890abcdef', via: 'process' }] }),
      fakeContainer('b'),
    ]));
    const chips = byTestId('container-gpu', row('a'));
    expect(chips.map((c) => c.textContent)).toEqual(['GPU 0', 'GPU 3', 'GPU-12345678…']);
    expect(chips[0]!.getAttribute('title')).toMatch(/^via device_request/);
    expect(chips[0]!.getAttribute('title')).toContain('GPU-aaaa');
    expect(chips[1]!.getAttribute('title')).toMatch(/^via env: .*NVIDIA_VISIBLE_DEVICES/);
    expect(chips[2]!.getAttribute('title')).toMatch(/^via process/);
    expect(chips[2]!.classList.contains('via-process')).toBe(true);
    expect(byTestId('container-gpu', row('b'))).toHaveLength(0);
    expect(row('b').querySelector('.col-gpus')?.textContent).toBe('—');
  });

  it('sorts by a column header: CPU biggest first, again for the reverse; unreported figures last either way', async () => {
    await show(statusWith(three()));
    expect(names()).toEqual(['alpha', 'Bravo', 'charlie']); // by name, case-insensitive
    const name = header('Name');
    const cpu = header('CPU');
    expect(name.getAttribute('aria-sort')).toBe('ascending');
    expect(cpu.hasAttribute('aria-sort')).toBe(false);

    const button = cpu.querySelector('button')!;
    expect(button.type).toBe('button'); // a real button: reachable with Tab, pressed with Enter or Space
    await click(button);
    expect(names()).toEqual(['charlie', 'alpha', 'Bravo']);
    expect(cpu.getAttribute('aria-sort')).toBe('descending');
    expect(name.hasAttribute('aria-sort')).toBe(false);
    expect(container.querySelector('caption')?.textContent).toBe('Containers, sorted by CPU, descending');

    await click(button);
    expect(names()).toEqual(['alpha', 'charlie', 'Bravo']); // null still last
    expect(cpu.getAttribute('aria-sort')).toBe('ascending');

    await click(name.querySelector('button')!);
    expect(names()).toEqual(['alpha', 'Bravo', 'charlie']);
    await click(name.querySelector('button')!);
    expect(names()).toEqual(['charlie', 'Bravo', 'alpha']);
    expect(name.getAttribute('aria-sort')).toBe('descending');
  });

  it('keeps the sort across live updates', async () => {
    const source = await show(statusWith(three()));
    await click(header('CPU').querySelector('button')!);
    const next = statusWith([
      fakeContainer('alpha', { cpuPercent: 400 }),
      fakeContainer('Bravo', { cpuPercent: 1 }),
      fakeContainer('charlie', { cpuPercent: 250 }),
    ]);
    await act(async () => source.set(liveSnapshot(next, 2), [envelope(2, next)]));
    expect(names()).toEqual(['alpha', 'charlie', 'Bravo']);
    expect(text('container-cpu', row('alpha'))).toBe('400.0 %');
  });

  it('sorts stably with nulls last (pure)', () => {
    const list = [
      fakeContainer('a', { cpuPercent: 5, memoryUsedMiB: null }),
      fakeContainer('b', { cpuPercent: null, memoryUsedMiB: 10 }),
      fakeContainer('c', { cpuPercent: 5, memoryUsedMiB: 10 }),
      fakeContainer('d', { cpuPercent: 9, memoryUsedMiB: null }),
      fakeContainer('e', { cpuPercent: 5, memoryUsedMiB: 30 }),
    ];
    const order = (key: Parameters<typeof sortContainers>[1]['key'], direction: 'ascending' | 'descending') =>
      sortContainers(list, { key, direction }).map((c) => c.name).join('');
    expect(order('cpu', 'descending')).toBe('daceb'); // equal CPU keeps a, c, e in input order
    expect(order('cpu', 'ascending')).toBe('acedb');
    expect(order('memory', 'descending')).toBe('ebcad');
    expect(order('memory', 'ascending')).toBe('bcead');
    expect(list.map((c) => c.name).join('')).toBe('abcde'); // a copy: the input stays as it was
  });

  it('filters by name, image, state or label, case-insensitive, and says "n of m"', async () => {
    await show(statusWith(three()));
    const filter = byTestId('containers-filter')[0] as HTMLInputElement;
    expect(filter.type).toBe('search');

    await type(filter, 'CHAR');
    expect(names()).toEqual(['charlie']);
    expect(text('containers-count')).toBe('1 of 3');

    await type(filter, 'postgres'); // image
    expect(names()).toEqual(['alpha']);
    await type(filter, 'Exited'); // state
    expect(names()).toEqual(['Bravo']);
    await type(filter, 'team=ml'); // label key=value
    expect(names()).toEqual(['charlie']);
    await type(filter, 'ana'); // label value
    expect(names()).toEqual(['charlie']);
    await type(filter, 'team'); // label key
    expect(names()).toEqual(['alpha', 'charlie']);
    expect(text('containers-count')).toBe('2 of 3');

    await type(filter, 'nothing-like-this');
    expect(names()).toEqual([]);
    expect(text('containers-no-match')).toBe('No container matches “nothing-like-this”');
    expect(text('containers-count')).toBe('0 of 3');
    expect(byTestId('containers-table')).toHaveLength(1); // the headers stay

    await act(async () => filter.dispatchEvent(new KeyboardEvent('keydown', { key: 'Escape', bubbles: true })));
    expect(filter.value).toBe('');
    expect(names()).toHaveLength(3);

    // every word has to match
    expect(filterContainers(three(), '  ML   running ').map((c) => c.name)).toEqual(['charlie']);
    expect(filterContainers(three(), '   ')).toHaveLength(3);
  });

  it('says "No Docker or Podman engine" quietly when the docker source is unavailable or absent', async () => {
    await show(statusWith([], { ...dockerOk(), status: 'unavailable', message: 'no Docker socket at /var/run/docker.sock', lastSampleAt: null }));
    expect(text('containers-empty')).toBe('No Docker or Podman engine · no Docker socket at /var/run/docker.sock');
    expect(byTestId('containers-table')).toHaveLength(0);
    expect(byTestId('containers-error')).toHaveLength(0);
    expect(byTestId('containers-filter')).toHaveLength(0);
    expect(byTestId('container-count')).toHaveLength(0);
    expect(byTestId('source-error')).toHaveLength(0);

    await show(statusWith([], null));
    expect(text('containers-empty')).toContain('No Docker or Podman engine');
  });

  it('says "No containers" when the engine answers with none, and waits for the first sample before that', async () => {
    await show(statusWith([]));
    expect(text('containers-empty')).toBe('No containers');
    expect(byTestId('containers-table')).toHaveLength(0);

    await show(statusWith([], { ...dockerOk(), status: 'starting', lastSampleAt: null }));
    expect(byTestId('containers-empty')).toHaveLength(0);
    expect(container.textContent).toContain('waiting for first container sample');
  });

  it('shows the message prominently when the engine connection is lost, the last rows dimmed', async () => {
    const message = 'connect ECONNREFUSED /run/podman/podman.sock';
    const failing = { ...dockerOk(), status: 'error' as const, message, consecutiveFailures: 2, nextRetryAt: T0 + 4000 };
    await show(statusWith([], failing));
    expect(byTestId('containers-error')[0]?.getAttribute('role')).toBe('alert');
    expect(text('containers-error')).toContain(message);
    expect(byTestId('containers-empty')).toHaveLength(0);
    expect(byTestId('source-error')).toHaveLength(0); // said once, here

    await show(statusWith(three(), failing));
    expect(text('containers-error')).toContain(message);
    expect(text('containers-error')).toContain('The rows below are the last ones read.');
    expect(names()).toHaveLength(3);
    expect(container.querySelector('.ctr-scroll')?.classList.contains('stale')).toBe(true);
  });

  it('names the container of a GPU process, falling back to the short id', async () => {
    const s = statusWith([]);
    const id = 'f00dcafe1234567890abcdef0123456789abcdef0123456789abcdef01234567';
    s.gpus = [fakeGpu(0, {
      processes: [
        { pid: 10, name: 'python train.py', type: 'C', usedMemoryMiB: 4096, gpuUuid: 'GPU-0', gpuIndex: 0, gpuInstanceId: null, computeInstanceId: null, user: 'ana', containerId: id, containerName: 'trainer' },
        { pid: 11, name: 'python eval.py', type: 'C', usedMemoryMiB: 2048, gpuUuid: 'GPU-0', gpuIndex: 0, gpuInstanceId: null, computeInstanceId: null, user: 'bo', containerId: '0123456789abcdef0123', containerName: null },
      ],
    })];
    s.sources.gpu = dockerOk();
    history.replaceState(null, '', '/gpus'); // the GPU view holds the process tables
    await show(s);
    const cells = byTestId('gpu-process-container');
    expect(cells.map((c) => c.textContent)).toEqual(['trainer', '0123456789ab']);
    expect(cells[0]!.getAttribute('title')).toBe(`trainer\n${id}`);
    expect(cells[1]!.getAttribute('title')).toBe('0123456789abcdef0123');
  });
});
