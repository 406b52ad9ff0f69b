/**
 * The container list as the source reports it (pure): what we know of each container (inspect), the figures of its
 * last stats reading while it runs or is paused, the GPUs it holds (mapped against this machine's GPUs, the env's
 * NVIDIA_VISIBLE_DEVICES honoured where the engine acts on it) and our health rating; sorted by name, then id.
 */
import type { Container } from '../../../../shared/resources.ts';
import { honoursVisibleDevices, type EngineInfo } from './engine.ts';
import { containerGpus, type GpuRef } from './gpus.ts';
import { isLive, statusText, type ContainerInfo } from './inspect.ts';
import { rateContainer, type ContainerThresholds } from './rating.ts';
import { NO_STATS, type ContainerStats } from './stats.ts';

export interface AssembleInput {
  now: number;
  infos: Iterable<ContainerInfo>;
  /** the figures of a container's last reading, if any */
  stats: (id: string) => ContainerStats | undefined;
  /** how much a container's restart count rose within the restart-loop window ending at `now` */
  restartsRisen: (id: string, now: number) => number;
  /** the engine, once known */
  engine: EngineInfo | null;
  /** this machine's GPUs, when the GPU source knows them */
  inventory: readonly GpuRef[] | undefined;
  thresholds: ContainerThresholds;
}

export function assembleContainers(input: AssembleInput): Container[] {
  const { now, inventory, engine, thresholds } = input;
  const out: Container[] = [];
  for (const info of input.infos) {
    const s = isLive(info) ? input.stats(info.id) ?? NO_STATS : NO_STATS;
    const honourEnv = honoursVisibleDevices(engine, info.runtime);
    const c: Container = {
      id: info.id,
      name: info.name,
      image: info.image,
      state: info.state,
      statusText: statusText(info, now),
      createdAt: info.createdAt,
      startedAt: info.startedAt,
      labels: info.labels,
      ports: info.ports,
      restartCount: info.restartCount,
      healthcheck: info.healthcheck,
      ...s,
      gpus: containerGpus(info, { inventory, honourEnv }),
      health: 'healthy',
      sampledAt: now,
    };
    c.health = rateContainer(c, input.restartsRisen(info.id, now), thresholds);
    out.push(c);
  }
  return out.sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id));
}
