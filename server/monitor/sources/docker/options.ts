/**
 * The options of the docker source, their defaults, and the check that they fit together (done when the source is
 * built, naming both values).
 */
import type { Container } from '../../../../shared/resources.ts';
import type { Clock } from '../../../clock.ts';
import type { EngineApi } from './api.ts';
import type { EngineTarget } from './connection.ts';
import type { GpuRef } from './gpus.ts';
import { DEFAULT_CONTAINER_THRESHOLDS, validateThresholds, type ContainerThresholds } from './rating.ts';

export type StatsMode = 'one-shot' | 'stream';

export interface DockerSourceOptions {
  /** @default systemClock */
  clock?: Clock;
  /** engine address, unix:///path or tcp://host:port (`--docker-host`). @default DOCKER_HOST, else /var/run/docker.sock */
  dockerHost?: string;
  /** environment read for DOCKER_HOST and default sockets (tests). @default process.env */
  env?: NodeJS.ProcessEnv;
  /** one stats request per running container per sample, or one long stream each. @default 'one-shot' */
  statsMode?: StatsMode;
  /** full re-list that heals missed events, ms. @default 60_000 */
  resyncMs?: number;
  /** bound on each stats request, ms (below the loop's sample timeout). @default 3_000 */
  statsTimeoutMs?: number;
  /** bound on version, list, inspect and on opening the event stream, ms. @default 5_000 */
  requestTimeoutMs?: number;
  /** first reconnection delay, doubled per failure. @default 500 */
  reconnectMinMs?: number;
  /** @default 30_000 */
  reconnectMaxMs?: number;
  /** health thresholds. @default DEFAULT_CONTAINER_THRESHOLDS */
  thresholds?: Partial<ContainerThresholds>;
  /** called with the full list right after an engine event (or a re-list) changed it */
  onChange?: (containers: Container[]) => void;
  /** this machine's GPUs (from the GPU source), to expand "all" and fill in index ↔ uuid */
  gpuInventory?: () => readonly GpuRef[];
  /** the engine client (tests substitute a fake). @default dockerode */
  engineApi?: (target: EngineTarget) => EngineApi;
}

export const DOCKER_DEFAULTS = {
  statsMode: 'one-shot' as StatsMode,
  resyncMs: 60_000,
  statsTimeoutMs: 3_000,
  requestTimeoutMs: 5_000,
  reconnectMinMs: 500,
  reconnectMaxMs: 30_000,
};

/** The options that have defaults, each set. */
export type DockerSettings = typeof DOCKER_DEFAULTS;

/** Every option with its default; throws on options that contradict each other. */
export function resolveDockerOptions(opts: DockerSourceOptions): { o: DockerSettings; thresholds: ContainerThresholds } {
  const o = {
    statsMode: opts.statsMode ?? DOCKER_DEFAULTS.statsMode,
    resyncMs: opts.resyncMs ?? DOCKER_DEFAULTS.resyncMs,
    statsTimeoutMs: opts.statsTimeoutMs ?? DOCKER_DEFAULTS.statsTimeoutMs,
    requestTimeoutMs: opts.requestTimeoutMs ?? DOCKER_DEFAULTS.requestTimeoutMs,
    reconnectMinMs: opts.reconnectMinMs ?? DOCKER_DEFAULTS.reconnectMinMs,
    reconnectMaxMs: opts.reconnectMaxMs ?? DOCKER_DEFAULTS.reconnectMaxMs,
  };
  if (o.reconnectMinMs > o.reconnectMaxMs) {
    throw new Error(`reconnectMinMs (${o.reconnectMinMs}) must not exceed reconnectMaxMs (${o.reconnectMaxMs})`);
  }
  const thresholds: ContainerThresholds = {
    memory: opts.thresholds?.memory ?? DEFAULT_CONTAINER_THRESHOLDS.memory,
    restartLoop: opts.thresholds?.restartLoop ?? DEFAULT_CONTAINER_THRESHOLDS.restartLoop,
  };
  validateThresholds(thresholds);
  return { o, thresholds };
}
