import { describe, expect, it } from 'vitest';
import { assembleContainers, type AssembleInput } from '../../server/monitor/sources/docker/assemble.ts';
import type { EngineInfo } from '../../server/monitor/sources/docker/engine.ts';
import type { ContainerInfo } from '../../server/monitor/sources/docker/inspect.ts';
import { DEFAULT_CONTAINER_THRESHOLDS } from '../../server/monitor/sources/docker/rating.ts';
import { NO_STATS, type ContainerStats } from '../../server/monitor/sources/docker/stats.ts';

const NOW = 1_800_000_000_000;
const DOCKER: EngineInfo = { apiVersion: '1.45', podman: false, oneShot: true, nvidiaDefaultRuntime: false };

function info(id: string, over: Partial<ContainerInfo> = {}): ContainerInfo {
  return {
    id, name: id, image: 'busybox', state: 'running', createdAt: NOW - 120_000, startedAt: NOW - 60_000, finishedAt: null,
    exitCode: 0, labels: {}, ports: [], restartCount: 0, healthcheck: null, env: [], deviceRequests: [], devices: [], runtime: 'runc',
    ...over,
  };
}

const FIGURES: ContainerStats = { ...NO_STATS, cpuPercent: 50, memoryUsedMiB: 100, memoryLimitMiB: 1000, memoryPercent: 10, pids: 3 };

function input(infos: ContainerInfo[], over: Partial<AssembleInput> = {}): AssembleInput {
  return {
    now: NOW, infos, stats: () => FIGURES, restartsRisen: () => 0, engine: DOCKER, inventory: undefined,
    thresholds: DEFAULT_CONTAINER_THRESHOLDS, ...over,
  };
}

describe('assembleContainers', () => {
  it('reports each container with its details, status text and the time of the sample, sorted by name then id', () => {
    const list = assembleContainers(input([info('b'), info('a2', { name: 'a' }), info('a1', { name: 'a' })]));
    expect(list.map((c) => c.id)).toEqual(['a1', 'a2', 'b']);
    expect(list[2]).toMatchObject({ id: 'b', name: 'b', image: 'busybox', state: 'running', statusText: 'Up About a minute', sampledAt: NOW, health: 'healthy' });
  });

  it('gives figures to running and paused containers only', () => {
    const list = assembleContainers(input([info('run'), info('pause', { state: 'paused' }), info('exit', { state: 'exited' })]));
    expect(list.find((c) => c.id === 'run')).toMatchObject(FIGURES);
    expect(list.find((c) => c.id === 'pause')).toMatchObject(FIGURES);
    expect(list.find((c) => c.id === 'exit')).toMatchObject(NO_STATS);
  });

  it('reports no figures before the first reading', () => {
    expect(assembleContainers(input([info('new')], { stats: () => undefined }))[0]).toMatchObject(NO_STATS);
  });

  it('rates from the figures and the restarts within the window', () => {
    const near = { ...FIGURES, memoryPercent: 95 };
    expect(assembleContainers(input([info('a')], { stats: () => near }))[0]!.health).toBe('warning');
    const asked: [string, number][] = [];
    const risen = (id: string, now: number) => (asked.push([id, now]), 3);
    expect(assembleContainers(input([info('a')], { restartsRisen: risen }))[0]!.health).toBe('critical');
    expect(asked).toEqual([['a', NOW]]);
  });

  it('maps NVIDIA_VISIBLE_DEVICES to GPUs only where the engine honours it, expanding "all" over the inventory', () => {
    const cuda = info('cuda', { env: ['NVIDIA_VISIBLE_DEVICES=all'] });
    const inventory = [{ index: 0, uuid: 'GPU-0' }, { index: 1, uuid: 'GPU-1' }];
    expect(assembleContainers(input([cuda], { inventory }))[0]!.gpus).toEqual([]);
    expect(assembleContainers(input([cuda], { inventory, engine: { ...DOCKER, podman: true } }))[0]!.gpus).toEqual([
      { index: 0, uuid: 'GPU-0', via: 'env' },
      { index: 1, uuid: 'GPU-1', via: 'env' },
    ]);
    expect(assembleContainers(input([{ ...cuda, runtime: 'nvidia' }], { engine: DOCKER }))[0]!.gpus).toEqual([{ index: null, uuid: null, via: 'env' }]);
  });
});
