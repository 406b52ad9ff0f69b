import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import os from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SourceUnavailableError } from '../../server/monitor/loop.ts';
import { describeError, parseDockerHost, resolveTarget } from '../../server/monitor/sources/docker/connection.ts';
import { apiAtLeast, DockerSource } from '../../server/monitor/sources/docker/docker.ts';

describe('parseDockerHost', () => {
  it('understands unix sockets, bare paths and tcp', () => {
    expect(parseDockerHost('unix:///var/run/docker.sock')).toMatchObject({ kind: 'unix', socketPath: '/var/run/docker.sock', label: 'unix:///var/run/docker.sock' });
    expect(parseDockerHost('/run/podman/podman.sock')).toMatchObject({ kind: 'unix', socketPath: '/run/podman/podman.sock' });
    expect(parseDockerHost('tcp://10.0.0.5:2375')).toMatchObject({ kind: 'tcp', host: '10.0.0.5', port: 2375, protocol: 'http' });
    expect(parseDockerHost('tcp://docker.example:2376')).toMatchObject({ protocol: 'https' });
    expect(parseDockerHost('tcp://localhost')).toMatchObject({ port: 2375 });
  });

  it('rejects what it cannot speak, naming the value', () => {
    expect(() => parseDockerHost('ssh://me@host')).toThrow(/ssh:\/\/ is not supported/);
    expect(() => parseDockerHost('unix://relative.sock')).toThrow(/absolute path/);
    expect(() => parseDockerHost('docker.sock')).toThrow(/"docker.sock"/);
  });
});

describe('resolveTarget', () => {
  it('prefers the option, then DOCKER_HOST', async () => {
    expect(await resolveTarget('unix:///a.sock', { DOCKER_HOST: 'unix:///b.sock' })).toMatchObject({ socketPath: '/a.sock', explicit: true });
    expect(await resolveTarget(undefined, { DOCKER_HOST: 'tcp://h:1234' })).toMatchObject({ kind: 'tcp', port: 1234 });
  });

  it('finds a socket in the default places, or nothing', async () => {
    const dir = mkdtempSync(join(os.tmpdir(), 'arbiter-sock-'));
    try {
      expect(await resolveTarget(undefined, { XDG_RUNTIME_DIR: dir, HOME: dir })).toBeNull();
      const server = createServer();
      await new Promise<void>((r) => server.listen(join(dir, 'docker.sock'), r));
      expect(await resolveTarget(undefined, { XDG_RUNTIME_DIR: dir })).toMatchObject({ socketPath: join(dir, 'docker.sock'), explicit: false });
      await new Promise((r) => server.close(r));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('DockerSource without an engine', () => {
  let dir: string;
  let server: Server;
  beforeAll(() => {
    dir = mkdtempSync(join(os.tmpdir(), 'arbiter-nodocker-'));
  });
  afterAll(() => {
    server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('is unavailable (not failing) when there is no socket', async () => {
    const src = new DockerSource({ dockerHost: `unix://${dir}/none.sock` });
    await src.start();
    await expect(src.sample()).rejects.toBeInstanceOf(SourceUnavailableError);
    await expect(src.sample()).rejects.toThrow(/no Docker engine socket at unix:\/\/.*none\.sock/);
    await src.stop();
  });

  it('is unavailable with no DOCKER_HOST and no default socket', async () => {
    const src = new DockerSource({ env: { XDG_RUNTIME_DIR: dir } });
    if (await resolveTarget(undefined, { XDG_RUNTIME_DIR: dir })) return; // this machine has a default socket
    await expect(src.sample()).rejects.toThrow(/no Docker engine: no socket at \/var\/run\/docker.sock \(set DOCKER_HOST or --docker-host\)/);
    await src.stop();
  });

  it('fails (error, not unavailable) when something that is not an engine answers on the socket', async () => {
    const path = join(dir, 'not-docker.sock');
    server = createServer((s) => s.end('HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\nConnection: close\r\n\r\nnope'));
    await new Promise<void>((r) => server.listen(path, r));
    const src = new DockerSource({ dockerHost: `unix://${path}`, reconnectMinMs: 60_000, reconnectMaxMs: 60_000 });
    const err = await src.sample().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect(err).not.toBeInstanceOf(SourceUnavailableError);
    expect(String((err as Error).message)).toMatch(/cannot connect to the Docker engine at unix:\/\/.*not-docker\.sock: .*500/);
    await src.stop();
  });

  it('rejects inconsistent options when built', () => {
    expect(() => new DockerSource({ reconnectMinMs: 5000, reconnectMaxMs: 1000 })).toThrow(/reconnectMinMs \(5000\).*reconnectMaxMs \(1000\)/);
    expect(() => new DockerSource({ thresholds: { memory: { warning: 99, critical: 98 } } })).toThrow(/warning threshold \(99\)/);
  });
});

describe('helpers', () => {
  it('apiAtLeast compares API versions numerically', () => {
    expect(apiAtLeast('1.41', '1.41')).toBe(true);
    expect(apiAtLeast('1.47', '1.41')).toBe(true);
    expect(apiAtLeast('1.9', '1.41')).toBe(false);
    expect(apiAtLeast('2.0', '1.41')).toBe(true);
  });

  it('describeError gives hints for the common socket errors', () => {
    const t = parseDockerHost('unix:///var/run/docker.sock');
    expect(describeError(Object.assign(new Error('x'), { code: 'EACCES' }), t)).toMatch(/permission denied .*docker group/);
    expect(describeError(Object.assign(new Error('x'), { code: 'ECONNREFUSED' }), t)).toMatch(/connection refused/);
  });
});
