/**
 * The docker source against a real engine: Podman's Docker-compatible API service started by `test/podman.sh start`
 * (which exports ARBITER_TEST_DOCKER_HOST; any Docker engine works too, given an image with `sh` and `sleep`
 * in ARBITER_TEST_DOCKER_IMAGE). ARBITER_SKIP_DOCKER_TESTS=1 skips the suite.
 * Every container made here carries the label arbiter.test=docker-source and is removed in afterAll.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Container, SourceStatus } from '../../shared/resources.ts';
import { ContainerSchema } from '../../shared/resources.ts';
import { systemClock } from '../../server/clock.ts';
import { MonitorLoop } from '../../server/monitor/loop.ts';
import { parseDockerHost } from '../../server/monitor/sources/docker/connection.ts';
import { DockerSource } from '../../server/monitor/sources/docker/docker.ts';
import { until } from '../helpers/cli-server.ts';
import { ownPodman } from '../helpers/own-podman.ts';

const run = promisify(execFile);
const HOST = process.env.ARBITER_TEST_DOCKER_HOST;
const SKIP = process.env.ARBITER_SKIP_DOCKER_TESTS === '1';
const IMAGE = process.env.ARBITER_TEST_DOCKER_IMAGE ?? 'localhost/busybox:latest';
// set by test/podman.sh: the engine is ours to stop and start
const PODMAN_SCRIPT = process.env.ARBITER_PODMAN_SCRIPT;
const PODMAN_DIR = process.env.ARBITER_PODMAN_DIR;
const LABEL = 'arbiter.test';
const SUITE = 'docker-source';
const MiB = 2 ** 20;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Records every onChange list and lets a test wait for one that satisfies a condition. */
class Changes {
  private waiters: { pred: (l: Container[]) => boolean; resolve: (l: Container[]) => void }[] = [];
  count = 0;
  last: Container[] = [];

  readonly onChange = (list: Container[]) => {
    this.count++;
    this.last = list;
    this.waiters = this.waiters.filter((w) => {
      if (!w.pred(list)) return true;
      w.resolve(list);
      return false;
    });
  };

  /** Resolves with the first list (from now on, or the last one) that satisfies `pred`, and how long it took. */
  async waitFor(pred: (l: Container[]) => boolean, timeoutMs: number, what: string): Promise<{ list: Container[]; ms: number }> {
    const t0 = performance.now();
    if (pred(this.last)) return { list: this.last, ms: 0 };
    const list = await new Promise<Container[]>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no onChange with ${what} within ${timeoutMs} ms`)), timeoutMs);
      this.waiters.push({ pred, resolve: (l) => { clearTimeout(timer); resolve(l); } });
    });
    return { list, ms: performance.now() - t0 };
  }
}


function clientFor(host: string): Docker {
  const t = parseDockerHost(host);
  return t.kind === 'unix' ? new Docker({ socketPath: t.socketPath }) : new Docker({ host: t.host, port: t.port, protocol: t.protocol });
}

async function removeOurs(docker: Docker): Promise<void> {
  const ours = await docker.listContainers({ all: true, filters: { label: [`${LABEL}=${SUITE}`] } });
  await Promise.all(ours.map((c) => docker.getContainer(c.Id).remove({ force: true, v: true }).catch(() => {})));
}

const byName = (l: Container[], name: string) => l.find((c) => c.name === name);

describe.skipIf(SKIP)('docker source against a real engine', () => {
  let docker: Docker;
  let source: DockerSource;
  const changes = new Changes();
  const tag = `${process.pid}-${Date.now().toString(36)}`;
  const name = (n: string) => `arbiter-${n}-${tag}`;

  async function create(n: string, cmd: string[], extra: Partial<Docker.ContainerCreateOptions> = {}): Promise<Docker.Container> {
    return docker.createContainer({
      name: name(n),
      Image: IMAGE,
      Cmd: cmd,
      Labels: { [LABEL]: SUITE, 'arbiter.role': n },
      HostConfig: { Memory: 64 * MiB, ...extra.HostConfig },
      ...extra,
    } as Docker.ContainerCreateOptions);
  }

  beforeAll(async () => {
    if (!HOST) {
      throw new Error(
        'ARBITER_TEST_DOCKER_HOST is not set: the docker tests need an engine. Run `eval "$(test/podman.sh start)"` first '
        + '(or point ARBITER_TEST_DOCKER_HOST at a Docker socket), or set ARBITER_SKIP_DOCKER_TESTS=1 to skip them.',
      );
    }
    docker = clientFor(HOST);
    await docker.ping().catch((e: unknown) => {
      throw new Error(`no engine answers at ARBITER_TEST_DOCKER_HOST=${HOST} (${String(e)}): run \`eval "$(test/podman.sh start)"\``);
    });
    await removeOurs(docker);
  });

  afterAll(async () => {
    await source?.stop();
    if (docker) await removeOurs(docker);
  });

  it('lists the containers that exist at start, with their details', async () => {
    const idle = await create('idle', ['sleep', '600'], { Labels: { [LABEL]: SUITE, 'arbiter.role': 'idle', team: 'ml' } });
    await idle.start();
    const stopped = await create('created', ['sleep', '600']);

    source = new DockerSource({ dockerHost: HOST, onChange: changes.onChange, reconnectMinMs: 250, reconnectMaxMs: 2000 });
    await source.start();
    expect(source.connected).toBe(true);
    const list = await source.sample();
    for (const c of list) expect(() => ContainerSchema.parse(c)).not.toThrow();

    const a = byName(list, name('idle'))!;
    expect(a).toBeDefined();
    expect(a.id).toBe(idle.id);
    expect(a).toMatchObject({ state: 'running', image: expect.stringContaining('busybox'), restartCount: 0, healthcheck: null, health: 'healthy', gpus: [] });
    expect(a.labels).toMatchObject({ team: 'ml', [LABEL]: SUITE });
    expect(a.statusText).toMatch(/^Up /);
    expect(a.createdAt).toBeGreaterThan(Date.now() - 120_000);
    expect(a.startedAt).toBeGreaterThanOrEqual(a.createdAt!);
    expect(a.memoryLimitMiB).toBe(64);

    const b = byName(list, name('created'))!;
    expect(b).toMatchObject({ id: stopped.id, state: 'created', statusText: 'Created', cpuPercent: null, memoryUsedMiB: null });
    // the first measurement has nothing to compare with yet
    expect(a.cpuPercent).toBeNull();
  });

  it('pushes a container that starts through onChange (its events: nothing is sampled meanwhile), then measures it', { timeout: 90_000 }, async () => {
    const busy = await create('busy', ['sh', '-c', 'while :; do :; done'], { HostConfig: { Memory: 64 * MiB, NanoCpus: 500_000_000 } });
    await changes.waitFor((l) => byName(l, name('busy'))?.state === 'created', 30_000, 'the busy container created');
    await busy.start();
    await changes.waitFor((l) => byName(l, name('busy'))?.state === 'running', 30_000, 'the busy container running');

    await source.sample();
    await sleep(1500);
    const list = await source.sample();
    const c = byName(list, name('busy'))!;
    // limited to half a core; on a loaded machine it may get less
    expect(c.cpuPercent).toBeGreaterThan(5);
    expect(c.cpuPercent).toBeLessThan(80);
    expect(c.memoryUsedMiB).toBeGreaterThan(0);
    expect(c.memoryLimitMiB).toBe(64);
    expect(c.memoryPercent).toBeCloseTo((c.memoryUsedMiB! / 64) * 100, 0);
    expect(c.pids).toBeGreaterThanOrEqual(1);
    expect(c.netRxBytesPerSec).not.toBeNull();
    expect(c.blockReadBytes).not.toBeNull();
    const idle = byName(list, name('idle'))!;
    expect(idle.cpuPercent).not.toBeNull();
    expect(idle.cpuPercent).toBeLessThan(5);
  });

  it('follows pause, unpause, stop and removal through events', { timeout: 150_000 }, async () => {
    const c = docker.getContainer((await source.sample()).find((x) => x.name === name('idle'))!.id);
    await c.pause();
    const paused = await changes.waitFor((l) => byName(l, name('idle'))?.state === 'paused', 30_000, 'paused');
    expect(byName(paused.list, name('idle'))!.statusText).toMatch(/\(Paused\)$/);
    await c.unpause();
    await changes.waitFor((l) => byName(l, name('idle'))?.state === 'running', 30_000, 'running again');

    await c.stop({ t: 0 });
    const stopped = await changes.waitFor((l) => byName(l, name('idle'))?.state === 'exited', 30_000, 'exited');
    const s = byName(stopped.list, name('idle'))!;
    expect(s.statusText).toMatch(/^Exited \(\d+\) /);
    expect(s.cpuPercent).toBeNull();
    expect(s.memoryUsedMiB).toBeNull();
    // a sample with a stopped container in the list is fine (its stats are not asked for)
    expect(byName(await source.sample(), name('idle'))!.state).toBe('exited');

    await c.remove({ force: true });
    await changes.waitFor((l) => !byName(l, name('idle')), 30_000, 'the container removed');
    expect(byName(await source.sample(), name('idle'))).toBeUndefined();
  });

  it('in stream mode, measures from the latest frame of one stream per running container', { timeout: 60_000 }, async () => {
    const streamed = new DockerSource({ dockerHost: HOST, statsMode: 'stream' });
    try {
      await streamed.start();
      // Podman sends a frame every 5 s, Docker every second: the second frame gives the rates (45 s: on a busy
      // machine Podman's first frames come late)
      const c = await until(async () => {
        const x = byName(await streamed.sample(), name('busy'));
        return x && x.cpuPercent !== null ? x : undefined;
      }, 'CPU % from the stats stream', 45_000);
      expect(c.cpuPercent).toBeGreaterThan(5);
      expect(c.memoryUsedMiB).toBeGreaterThan(0);
    } finally {
      await streamed.stop();
    }
  });

  // retried once: in about one full suite run in four on the 2-core VM the restarted Podman service's list did not
  // show the container made while it was down within 20 s; the failure message names what the source saw
  it.skipIf(!PODMAN_SCRIPT || !PODMAN_DIR)('reports an engine that goes away as an error, reconnects and resyncs the list', { retry: 1, timeout: 150_000 }, async () => {
    // a Podman service of its own to stop and start, so that the docker tests running meanwhile keep theirs
    const own = await ownPodman(PODMAN_SCRIPT!);
    const watched = new DockerSource({ dockerHost: own.host, reconnectMinMs: 200, reconnectMaxMs: 1000 });
    const loop = new MonitorLoop<{ docker: Container[] }>({ clock: systemClock, timeoutMs: 5000, maxBackoffMs: 1000 });
    const statuses: SourceStatus[] = [];
    let latest: Container[] = [];
    loop.add(watched, 500);
    loop.onAttempt((a) => {
      if (a.sample) latest = a.sample;
      statuses.push(a.status);
    });
    const podman = own.podman;
    try {
      await loop.start();
      await until(async () => (byName(latest, name('busy')) ? true : undefined), 'first list', 30_000);
      const doomed = byName(latest, name('created'))!;
      expect(doomed).toBeDefined();

      await own.stop();
      const failed = await until(async () => statuses.find((s) => s.status === 'error'), 'error status', 30_000);
      expect(failed.message).toMatch(/(lost the connection|cannot reconnect) to the Docker engine at unix:\/\/.*/);
      await expect(watched.sample()).rejects.toThrow(/Docker engine at unix:\/\//);

      // while the service is down, change the containers behind its back: these events are never seen
      await podman('rm', '-f', doomed.id);
      await podman('run', '-d', '--name', name('while-down'), '--label', `${LABEL}=${SUITE}`, IMAGE, 'sleep', '600');

      await own.start();
      const list = await until(async () => {
        const s = statuses.at(-1);
        return s?.status === 'ok' && byName(latest, name('while-down')) ? latest : undefined;
      }, 'recovery with the new container listed', 20_000).catch((err: unknown) => {
        // say what the source saw: its last states and the names it listed
        const seen = statuses.slice(-5).map((s) => `${s.status}${s.message ? ` (${s.message})` : ''}`).join(' → ');
        throw new Error(`${String(err)}; last states: ${seen}; listed: ${latest.map((c) => c.name).join(', ')}`);
      });
      expect(byName(list, name('while-down'))!.state).toBe('running');
      expect(byName(list, name('created'))).toBeUndefined();
      expect(byName(list, name('busy'))!.state).toBe('running');
      expect(watched.connected).toBe(true);

      // and events flow again after the reconnection
      await docker.getContainer(byName(list, name('while-down'))!.id).stop({ t: 0 });
      await until(async () => (byName(watched.list(), name('while-down'))?.state === 'exited' ? true : undefined), 'event after reconnection', 30_000);
    } finally {
      await loop.stop();
      await own.close();
    }
  });

  it('stops cleanly', async () => {
    await source.stop();
    await expect(source.sample()).rejects.toThrow(/stopped/);
  });
});
