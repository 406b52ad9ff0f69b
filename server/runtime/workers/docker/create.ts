/**
 * A Launch as the engine's create options, and back: the labels a worker's container carries are enough, with its
 * inspect body, to rebuild its `Running` after a restart of Arbiter (adopt) — the worker's id, group, replica and
 * the container port it listens on; the published host port and the start time come from inspect.
 *
 * Resources: `cpu` millicores → NanoCpus (× 1e6), `mem` MiB → Memory (bytes), 0 meaning no limit. GPUs: a device
 * request for exactly the granted indices. Inside the container only those GPUs exist, numbered from 0, so
 * CUDA_VISIBLE_DEVICES is set to `0,…,n-1` while NVIDIA_VISIBLE_DEVICES keeps the host's indices (what the NVIDIA
 * container toolkit reads); without GPUs it is `void`, so that an image declaring `NVIDIA_VISIBLE_DEVICES=all`
 * gets none on an engine whose default runtime is NVIDIA's.
 */
import type Docker from 'dockerode';
import type { Launch, Running } from '../backend.ts';
import type { WorkerInspect } from './engine.ts';

export const LABELS = {
  worker: 'arbiter.worker',
  group: 'arbiter.group',
  replica: 'arbiter.replica',
  /** the container port the worker listens on (ARBITER_PORT inside) */
  port: 'arbiter.port',
} as const;

/** Where published ports are bound, and where Arbiter reaches them. */
export const PUBLISH_HOST = '127.0.0.1';
const MiB = 2 ** 20;

export interface CreateSettings {
  /** extra labels on every container (ours win on a clash) */
  labels: Record<string, string>;
  /** run an init process as PID 1 (signals reach the command, zombies are reaped) */
  init: boolean;
}

/** `arbiter-<id>`, with what a container name may not hold ([a-zA-Z0-9][a-zA-Z0-9_.-]*) replaced by `_`. */
export function containerName(id: string): string {
  return `arbiter-${id}`.replace(/[^a-zA-Z0-9_.-]/g, '_');
}

/** A command line runs under `/bin/sh -c`; an argv is the command as it is. */
export function commandOf(cmd: string | readonly string[]): string[] {
  return typeof cmd === 'string' ? ['/bin/sh', '-c', cmd] : [...cmd];
}

/** The GPU variables as a container must see them (see the module's comment). */
export function gpuEnv(gpus: readonly number[]): Record<string, string> {
  if (gpus.length === 0) return { NVIDIA_VISIBLE_DEVICES: 'void', CUDA_VISIBLE_DEVICES: '' };
  return { NVIDIA_VISIBLE_DEVICES: gpus.join(','), CUDA_VISIBLE_DEVICES: gpus.map((_, i) => i).join(',') };
}

/**
 * The create options of a replica: `hostPort` is the host port to publish `launch.port/tcp` on, or '' to let the
 * engine choose one.
 */
export function createOptions(launch: Launch, image: string, hostPort: string, s: CreateSettings): Docker.ContainerCreateOptions {
  const { spec, gpus, port } = launch;
  const env = { ...launch.env, ...gpuEnv(gpus) };
  const portKey = `${port}/tcp`;
  return {
    name: containerName(launch.id),
    Image: image,
    Cmd: commandOf(spec.cmd),
    Env: Object.entries(env).map(([k, v]) => `${k}=${v}`),
    Labels: {
      ...s.labels,
      [LABELS.worker]: launch.id,
      [LABELS.group]: launch.group,
      [LABELS.replica]: String(launch.replica),
      [LABELS.port]: String(port),
    },
    Tty: false,
    ExposedPorts: { [portKey]: {} },
    HostConfig: {
      PortBindings: { [portKey]: [{ HostIp: PUBLISH_HOST, HostPort: hostPort }] },
      RestartPolicy: { Name: 'no' },
      Init: s.init,
      ...(spec.cpu > 0 ? { NanoCpus: spec.cpu * 1_000_000 } : {}),
      ...(spec.mem > 0 ? { Memory: spec.mem * MiB } : {}),
      ...(gpus.length > 0 ? { DeviceRequests: [{ Driver: 'nvidia', DeviceIDs: gpus.map(String), Capabilities: [['gpu']] }] } : {}),
    },
  };
}

/** The host port `containerPort/tcp` is published on, or null when it is not. */
export function publishedPort(body: WorkerInspect, containerPort: number): number | null {
  const bindings = body.NetworkSettings?.Ports?.[`${containerPort}/tcp`] ?? [];
  for (const b of bindings) {
    const p = Number(b.HostPort);
    if (Number.isInteger(p) && p > 0) return p;
  }
  return null;
}

/** ms since epoch of an engine time; null for none (Docker's zero time is year 1). */
function engineTime(text: string | undefined): number | null {
  const t = text ? Date.parse(text) : NaN;
  return Number.isFinite(t) && t > 0 ? t : null;
}

/**
 * A worker's container as a `Running`: its id from the label (or `id`), its published port (the container port
 * when it is not published; 0 without a port label), its start time.
 */
export function runningOf(body: WorkerInspect, id?: string): Running {
  const labels = body.Config?.Labels ?? {};
  const containerPort = Number(labels[LABELS.port]);
  const port = Number.isInteger(containerPort) && containerPort > 0 ? (publishedPort(body, containerPort) ?? containerPort) : 0;
  return {
    id: id ?? labels[LABELS.worker] ?? body.Id,
    host: PUBLISH_HOST,
    port,
    startedAt: engineTime(body.State?.StartedAt) ?? engineTime(body.Created) ?? 0,
    ref: { kind: 'docker', containerId: body.Id },
  };
}

/** Still running as far as a worker goes: running, paused, or being restarted by the engine. */
export function isAlive(body: WorkerInspect): boolean {
  const s = body.State;
  if (!s) return false;
  return s.Running === true || s.Paused === true || s.Restarting === true || ['running', 'paused', 'restarting'].includes(s.Status ?? '');
}

/** The exit status the engine kept; null for a container that never ran. */
export function exitCodeOf(body: WorkerInspect): number | null {
  const s = body.State;
  if (!s || typeof s.ExitCode !== 'number') return null;
  if (s.Status === 'created' || engineTime(s.StartedAt) === null) return null;
  return s.ExitCode;
}
