/**
 * This node's monitor: the loop with the sources the config turns on (host always; gpu and docker unless disabled),
 * the status board attached to it, and each source's changes of state logged.
 */
import type { Config, MonitorSampling } from '../config.ts';
import type { Clock } from '../clock.ts';
import type { Logger } from '../log.ts';
import type { Container, Gpu, HostSample } from '../../shared/resources.ts';
import { MonitorLoop, type SampleMap, type Source } from '../monitor/loop.ts';
import type { NodeSamples, StatusBoard } from '../monitor/status.ts';
import { HostSource } from '../monitor/sources/host.ts';
import { GpuSource } from '../monitor/sources/gpu/gpu.ts';
import { DockerSource } from '../monitor/sources/docker/docker.ts';

/** Stand-ins for the real sources (tests). */
export interface NodeSources {
  hostSource?: Source<HostSample, 'host'>;
  gpuSource?: Source<Gpu[], 'gpu'>;
  dockerSource?: Source<Container[], 'docker'>;
}

export interface NodeMonitorOptions {
  config: { monitor: MonitorSampling; health: Config['health'] };
  clock: Clock;
  log: Logger;
  board: StatusBoard;
  sources?: NodeSources;
}

export function nodeMonitor({ config, clock, log, board, sources = {} }: NodeMonitorOptions): MonitorLoop<NodeSamples> {
  const { monitor, health } = config;
  const loop = new MonitorLoop<NodeSamples>({ clock, timeoutMs: monitor.sampleTimeoutMs, maxBackoffMs: monitor.maxBackoffMs });
  board.attach(loop);
  logSourceStates(loop, log);

  loop.add(sources.hostSource ?? new HostSource({ clock, thresholds: health, inventoryIntervalMs: monitor.inventoryIntervalMs }), monitor.hostIntervalMs);
  const gpu = sources.gpuSource ?? (monitor.gpu ? new GpuSource({
    nvidiaSmi: monitor.nvidiaSmi,
    intervalMs: monitor.gpuIntervalMs,
    thresholds: { temperature: health.gpuTemperature, memory: health.gpuMemory },
    clock,
    log: log.child({ source: 'gpu' }),
  }) : undefined);
  if (gpu) loop.add(gpu, monitor.gpuIntervalMs);
  const docker = sources.dockerSource ?? (monitor.docker ? new DockerSource({
    dockerHost: monitor.dockerHost,
    statsMode: monitor.dockerStatsMode,
    resyncMs: monitor.dockerResyncMs,
    clock,
    thresholds: { memory: health.containerMemory },
    gpuInventory: () => board.snapshot().gpus.map((g) => ({ index: g.index, uuid: g.uuid })),
    // engine events (start, die, …) are pushed at once, not at the next stats round
    onChange: (c) => board.setContainers(c, { publish: true }),
  }) : undefined);
  if (docker) loop.add(docker, monitor.dockerIntervalMs);
  return loop;
}

/** Logs each source's changes of state (and of message), not every retry. */
export function logSourceStates<M extends SampleMap>(loop: Pick<MonitorLoop<M>, 'onAttempt'>, log: Logger): () => void {
  const last = new Map<string, string>();
  return loop.onAttempt(({ source, status }) => {
    const key = `${status.status}:${status.message ?? ''}`;
    if (last.get(source) === key) return;
    last.set(source, key);
    const level = status.status === 'error' ? 'warn' : 'info';
    log[level]({ source, status: status.status, message: status.message }, `source ${source} is ${status.status}`);
  });
}
