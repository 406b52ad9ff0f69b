/**
 * The options of the docker backend, their defaults, and the check that they fit together (done when the backend
 * is built, naming both values).
 */
import type { Clock } from '../../../clock.ts';
import type { Logger } from '../../../log.ts';
import { LABELS } from './create.ts';
import type { WorkerEngine } from './engine.ts';

export interface DockerBackendOptions {
  /** engine address, unix:///path or tcp://host:port (as the docker source's `--docker-host`). @default DOCKER_HOST, else the first default socket that exists */
  dockerHost?: string;
  /** environment read for DOCKER_HOST and the default sockets (tests). @default process.env */
  env?: NodeJS.ProcessEnv;
  /** labels put on every container besides the worker's own (e.g. `arbiter.test` in tests). @default {} */
  labels?: Record<string, string>;
  /** run the engine's init (docker-init, Podman's catatonit) as PID 1, so that SIGTERM reaches the command. @default true */
  init?: boolean;
  /** lines of output kept in memory from a worker that ended (its container is removed). @default 1_000 */
  keptLines?: number;
  /** ended workers whose output is kept; the oldest are forgotten first. @default 256 */
  keptWorkers?: number;
  /** bound on each short engine call (create, start, inspect, pause, logs…), ms. @default 10_000 */
  requestTimeoutMs?: number;
  /** bound on pulling an image that is not on the engine, ms. @default 600_000 */
  pullTimeoutMs?: number;
  /** first delay before following a container again after its wait failed (engine gone), doubled per failure, ms. @default 500 */
  reconnectMinMs?: number;
  /** @default 30_000 */
  reconnectMaxMs?: number;
  /** @default systemClock */
  clock?: Clock;
  /** where failures that do not reach a caller are told (a wait that failed, a container not removed). @default none */
  log?: Pick<Logger, 'warn'>;
  /** the engine client (unit tests substitute a fake). @default dockerode over the resolved address */
  engine?: WorkerEngine;
}

export const DOCKER_BACKEND_DEFAULTS = {
  init: true,
  keptLines: 1_000,
  keptWorkers: 256,
  requestTimeoutMs: 10_000,
  pullTimeoutMs: 600_000,
  reconnectMinMs: 500,
  reconnectMaxMs: 30_000,
};

export type DockerBackendSettings = typeof DOCKER_BACKEND_DEFAULTS & { labels: Record<string, string> };

/** Every option with its default; throws on options that contradict each other or make no sense. */
export function resolveBackendOptions(opts: DockerBackendOptions): DockerBackendSettings {
  const d = DOCKER_BACKEND_DEFAULTS;
  const s: DockerBackendSettings = {
    labels: { ...opts.labels },
    init: opts.init ?? d.init,
    keptLines: opts.keptLines ?? d.keptLines,
    keptWorkers: opts.keptWorkers ?? d.keptWorkers,
    requestTimeoutMs: opts.requestTimeoutMs ?? d.requestTimeoutMs,
    pullTimeoutMs: opts.pullTimeoutMs ?? d.pullTimeoutMs,
    reconnectMinMs: opts.reconnectMinMs ?? d.reconnectMinMs,
    reconnectMaxMs: opts.reconnectMaxMs ?? d.reconnectMaxMs,
  };
  for (const k of ['keptLines', 'keptWorkers'] as const) {
    if (!Number.isInteger(s[k]) || s[k] < 0) throw new Error(`${k} (${s[k]}) must be a whole number ≥ 0`);
  }
  for (const k of ['requestTimeoutMs', 'pullTimeoutMs', 'reconnectMinMs', 'reconnectMaxMs'] as const) {
    if (!(s[k] > 0)) throw new Error(`${k} (${s[k]}) must be > 0`);
  }
  if (s.reconnectMinMs > s.reconnectMaxMs) {
    throw new Error(`reconnectMinMs (${s.reconnectMinMs}) must not exceed reconnectMaxMs (${s.reconnectMaxMs})`);
  }
  const own: readonly string[] = Object.values(LABELS);
  for (const k of Object.keys(s.labels)) if (own.includes(k)) throw new Error(`label ${k} is the backend's own: it names each worker`);
  return s;
}
