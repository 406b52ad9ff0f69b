import { describe, expect, it } from 'vitest';
import type { EngineApi, EngineVersion } from '../../server/monitor/sources/docker/api.ts';
import { containerGone, honoursVisibleDevices, probeEngine, type EngineInfo } from '../../server/monitor/sources/docker/engine.ts';

/** An engine that answers /version and /info (or fails /info), counting the signals it was given. */
function engine(version: EngineVersion, info: { DefaultRuntime?: string } | Error) {
  const signals: AbortSignal[] = [];
  const api = {
    version: async (signal: AbortSignal) => (signals.push(signal), version),
    info: async (signal: AbortSignal) => {
      signals.push(signal);
      if (info instanceof Error) throw info;
      return info;
    },
  } as Pick<EngineApi, 'version' | 'info'> as EngineApi;
  return { api, signals };
}

const timeout = () => AbortSignal.timeout(5_000);

describe('probeEngine', () => {
  it('reads a Docker engine: API version, one-shot stats from 1.41, the default runtime', async () => {
    const { api, signals } = engine({ ApiVersion: '1.45', Components: [{ Name: 'Engine' }] }, { DefaultRuntime: 'nvidia' });
    expect(await probeEngine(api, timeout)).toEqual({ apiVersion: '1.45', podman: false, oneShot: true, nvidiaDefaultRuntime: true });
    expect(signals).toHaveLength(2); // each request bounded
  });

  it('recognises Podman by its component, and an API without one-shot', async () => {
    const { api } = engine({ ApiVersion: '1.40', Components: [{ Name: 'Podman Engine' }] }, { DefaultRuntime: 'crun' });
    expect(await probeEngine(api, timeout)).toEqual({ apiVersion: '1.40', podman: true, oneShot: false, nvidiaDefaultRuntime: false });
  });

  it('assumes API 1.24 when the engine names none, and no default runtime when /info fails', async () => {
    const { api } = engine({}, new Error('HTTP 500'));
    expect(await probeEngine(api, timeout)).toEqual({ apiVersion: '1.24', podman: false, oneShot: false, nvidiaDefaultRuntime: false });
  });

  it('fails when /version fails', async () => {
    const api = { version: async () => Promise.reject(Object.assign(new Error('refused'), { code: 'ECONNREFUSED' })), info: async () => ({}) };
    await expect(probeEngine(api as unknown as EngineApi, timeout)).rejects.toThrow('refused');
  });
});

describe('honoursVisibleDevices', () => {
  const docker: EngineInfo = { apiVersion: '1.45', podman: false, oneShot: true, nvidiaDefaultRuntime: false };

  it('is true before the engine is known, on Podman, and with the nvidia runtime (default or the container’s)', () => {
    expect(honoursVisibleDevices(null, null)).toBe(true);
    expect(honoursVisibleDevices({ ...docker, podman: true }, 'crun')).toBe(true);
    expect(honoursVisibleDevices({ ...docker, nvidiaDefaultRuntime: true }, 'runc')).toBe(true);
    expect(honoursVisibleDevices(docker, 'nvidia')).toBe(true);
  });

  it('is false on Docker with another runtime', () => {
    expect(honoursVisibleDevices(docker, 'runc')).toBe(false);
    expect(honoursVisibleDevices(docker, null)).toBe(false);
  });
});

describe('containerGone', () => {
  const answer = (statusCode: number, message: string) => Object.assign(new Error(`(HTTP code ${statusCode}) ${message}`), { statusCode, json: { message } });

  it('is true for a 404 and for Podman\'s 500 "no such container" of a container removed meanwhile', () => {
    expect(containerGone(answer(404, 'No such container: abc'))).toBe(true);
    expect(containerGone(answer(500, 'container abc does not exist in database: no such container'))).toBe(true);
  });

  it('is false for another 500, a 409 and a socket error', () => {
    expect(containerGone(answer(500, 'cannot listen on the TCP port'))).toBe(false);
    expect(containerGone(answer(409, 'container is paused'))).toBe(false);
    expect(containerGone(Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }))).toBe(false);
  });
});
