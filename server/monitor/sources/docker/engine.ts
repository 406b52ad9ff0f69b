/**
 * What the engine we are connected to is, read once per connection from `/version` and `/info`, and what that
 * changes in how we read it: one-shot stats from API 1.41 on; NVIDIA_VISIBLE_DEVICES in a container's env means
 * GPUs only where something acts on it (Podman's hook, the nvidia runtime as default or as the container's own).
 */
import type { EngineApi } from './api.ts';

export interface EngineInfo {
  apiVersion: string;
  podman: boolean;
  oneShot: boolean;
  nvidiaDefaultRuntime: boolean;
}

/** "1.41" ≥ "1.40"? */
export function apiAtLeast(version: string, min: string): boolean {
  const [a = 0, b = 0] = version.split('.').map(Number);
  const [c = 0, d = 0] = min.split('.').map(Number);
  return a > c || (a === c && b >= d);
}

/** Ask the engine what it is (`/info` may fail: then no default runtime is known). */
export async function probeEngine(client: EngineApi, timeout: () => AbortSignal): Promise<EngineInfo> {
  const [version, info] = await Promise.all([
    client.version(timeout()),
    client.info(timeout()).catch(() => null),
  ]);
  const apiVersion = version.ApiVersion ?? '1.24';
  return {
    apiVersion,
    podman: (version.Components ?? []).some((c) => /podman/i.test(c.Name ?? '')),
    oneShot: apiAtLeast(apiVersion, '1.41'),
    nvidiaDefaultRuntime: /nvidia/i.test(info?.DefaultRuntime ?? ''),
  };
}

/** Whether NVIDIA_VISIBLE_DEVICES in a container's env gives it GPUs (an engine not yet known: assume so). */
export function honoursVisibleDevices(engine: EngineInfo | null, runtime: string | null): boolean {
  return !engine || engine.podman || engine.nvidiaDefaultRuntime || (runtime ?? '').includes('nvidia');
}

/**
 * An engine's answer that the container no longer exists: a 404, or Podman's 500 "no such container", which it sends
 * when the container is removed while the request is being served (listed a moment ago, gone from its database now).
 */
export function containerGone(err: unknown): boolean {
  const e = err as { statusCode?: unknown; json?: { message?: unknown } | null; message?: unknown } | null;
  if (e?.statusCode === 404) return true;
  if (e?.statusCode !== 500) return false;
  const m = typeof e.json?.message === 'string' ? e.json.message : typeof e.message === 'string' ? e.message : '';
  return /no such container/i.test(m);
}
