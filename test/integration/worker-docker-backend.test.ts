/**
 * The docker backend against a real engine: Podman's Docker-compatible API service of `test/podman.sh` (started by
 * the global setup, which exports ARBITER_TEST_DOCKER_HOST; any Docker engine works too, given an image with
 * busybox's `sh`, `sleep` and `httpd` in ARBITER_TEST_DOCKER_IMAGE). ARBITER_SKIP_DOCKER_TESTS=1 skips the suite.
 * Every container made here carries the labels arbiter.test=1 (what `test/podman.sh clean` removes) and
 * arbiter.test.run=<this run>, and is removed in afterAll. Nothing sleeps: each test waits for a condition
 * (an exit reported, an answer, an inspect) with a timeout.
 */
import { execFile } from 'node:child_process';
import net from 'node:net';
import { promisify } from 'node:util';
import Docker from 'dockerode';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ContainerSpec } from '../../shared/workers.ts';
import { parseDockerHost } from '../../server/monitor/sources/docker/connection.ts';
import type { Exit, Launch, Running } from '../../server/runtime/workers/backend.ts';
import { DockerBackend } from '../../server/runtime/workers/docker.ts';
import { freePort, until } from '../helpers/cli-server.ts';
import { ownPodman } from '../helpers/own-podman.ts';

const run = promisify(execFile);
const HOST = process.env.ARBITER_TEST_DOCKER_HOST;
const SKIP = process.env.ARBITER_SKIP_DOCKER_TESTS === '1';
const IMAGE = process.env.ARBITER_TEST_DOCKER_IMAGE ?? 'localhost/busybox:latest';
// set by test/podman.sh: the engine is ours to stop and start
const PODMAN_SCRIPT = process.env.ARBITER_PODMAN_SCRIPT;
const PODMAN_DIR = process.env.ARBITER_PODMAN_DIR;
const MiB = 2 ** 20;
const RUN = `${process.pid}-${Date.now().toString(36)}`;
const LABELS = { 'arbiter.test': '1', 'arbiter.test.run': RUN };

/** A sh loop that stays up (and can be told to end with USR1, exit status `code`). */
const loop = (code = 0) => `trap 'echo usr1; exit ${code}' USR1; echo ready; while :; do sleep 0.1; done`;



/** Every exit reported, and a wait for the first of a worker. */
class Exits {
  readonly all: [string, Exit][] = [];
  private waiters: { id: string; resolve: (e: Exit) => void }[] = [];
  readonly listener = (id: string, exit: Exit) => {
    this.all.push([id, exit]);
    this.waiters = this.waiters.filter((w) => (w.id === id ? (w.resolve(exit), false) : true));
  };
  of(id: string): Exit[] {
    return this.all.filter(([i]) => i === id).map(([, e]) => e);
  }
  wait(id: string, timeoutMs = 15_000): Promise<Exit> {
    const seen = this.of(id)[0];
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no exit of ${id} within ${timeoutMs} ms`)), timeoutMs);
      this.waiters.push({ id, resolve: (e) => { clearTimeout(timer); resolve(e); } });
    });
  }
}

describe.skipIf(SKIP)('docker backend against a real engine', () => {
  let docker: Docker;
  const backends: DockerBackend[] = [];
  let seq = 0;

  function backend(dockerHost = HOST): { b: DockerBackend; exits: Exits } {
    const b = new DockerBackend({ dockerHost, labels: LABELS, reconnectMinMs: 100, reconnectMaxMs: 1_000 });
    const exits = new Exits();
    b.onExit(exits.listener);
    backends.push(b);
    return { b, exits };
  }

  async function launch(cmd: ContainerSpec['cmd'], over: Partial<ContainerSpec> = {}, port?: number): Promise<Launch> {
    const group = `wdb-${RUN}-${++seq}`;
    const id = `${group}-0`;
    const p = port ?? (await freePort());
    const env_vars = over.env_vars ?? {};
    return {
      id, group, replica: 0, gpus: [], port: p,
      spec: { cpu: 0, gpu: 0, mem: 0, container_image: IMAGE, cmd, ...over },
      env: { ...env_vars, ARBITER_WORKER_ID: id, ARBITER_PORT: String(p), CUDA_VISIBLE_DEVICES: '', NVIDIA_VISIBLE_DEVICES: 'void' },
    };
  }

  const containerOf = (r: Running) => docker.getContainer(r.ref.kind === 'docker' ? r.ref.containerId : 'none');
  const ofWorker = (id: string) => docker.listContainers({ all: true, filters: { label: [`arbiter.worker=${id}`] } });
  async function waitForLine(b: DockerBackend, id: string, line: string): Promise<void> {
    await until(async () => (await b.logs(id, 50)).includes(line), `line "${line}" from ${id}`, 10_000);
  }

  beforeAll(async () => {
    if (!HOST) {
      throw new Error('ARBITER_TEST_DOCKER_HOST is not set: run the docker tests through vitest (its global setup starts test/podman.sh) or set ARBITER_SKIP_DOCKER_TESTS=1');
    }
    const t = parseDockerHost(HOST);
    docker = t.kind === 'unix' ? new Docker({ socketPath: t.socketPath }) : new Docker({ host: t.host, port: t.port, protocol: t.protocol });
    await docker.ping();
  });

  afterEach(async () => {
    await Promise.all(backends.splice(0).map((b) => b.close()));
  });

  afterAll(async () => {
    if (!docker) return;
    const left = await docker.listContainers({ all: true, filters: { label: [`arbiter.test.run=${RUN}`] } });
    await Promise.all(left.map((c) => docker.getContainer(c.Id).remove({ force: true, v: true }).catch(() => {})));
  });

  it('starts a worker that answers GET /health on its published 127.0.0.1 port, with its env, labels and limits', async () => {
    const { b, exits } = backend();
    const cmd = 'echo "id=$ARBITER_WORKER_ID color=$COLOR port=$ARBITER_PORT"; mkdir -p /tmp/www && echo \'{"status":"ok"}\' > /tmp/www/health && exec httpd -f -p "$ARBITER_PORT" -h /tmp/www';
    const l = await launch(cmd, { cpu: 500, mem: 64, env_vars: { COLOR: 'teal' } });
    const r = await b.start(l);
    expect(r).toMatchObject({ id: l.id, host: '127.0.0.1', port: l.port, ref: { kind: 'docker', containerId: expect.stringMatching(/^[0-9a-f]{64}$/) } });
    expect(Math.abs(r.startedAt - Date.now())).toBeLessThan(60_000);

    const body = await until(async () => {
      const res = await fetch(`http://127.0.0.1:${r.port}/health`);
      return res.ok ? res.json() : undefined;
    }, 'GET /health', 10_000);
    expect(body).toEqual({ status: 'ok' });
    expect(await b.logs(l.id, 10)).toEqual([`id=${l.id} color=teal port=${l.port}`]);

    const info = await containerOf(r).inspect();
    expect(info.Name.replace(/^\//, '')).toBe(`arbiter-${l.id}`);
    expect(info.Config.Labels).toMatchObject({ 'arbiter.worker': l.id, 'arbiter.group': l.group, 'arbiter.replica': '0', 'arbiter.port': String(l.port), 'arbiter.test': '1' });
    expect(info.HostConfig.NanoCpus).toBe(500_000_000);
    expect(info.HostConfig.Memory).toBe(64 * MiB);
    expect(info.Config.Env).toEqual(expect.arrayContaining(['COLOR=teal', `ARBITER_WORKER_ID=${l.id}`, 'NVIDIA_VISIBLE_DEVICES=void']));

    await b.stop(l.id, 5_000);
    expect(exits.of(l.id)).toHaveLength(1);
    expect(await ofWorker(l.id)).toEqual([]); // removed once ended
    expect(await b.logs(l.id, 10)).toEqual([`id=${l.id} color=teal port=${l.port}`]); // kept
  });

  it('publishes on a port the engine chooses when the wanted host port is taken', async () => {
    const { b } = backend();
    const taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    try {
      const port = (taken.address() as net.AddressInfo).port;
      const l = await launch('mkdir -p /w && echo ok > /w/health && exec httpd -f -p "$ARBITER_PORT" -h /w', {}, port);
      const r = await b.start(l);
      expect(r.port).not.toBe(port);
      const text = await until(async () => {
        const res = await fetch(`http://127.0.0.1:${r.port}/health`);
        return res.ok ? res.text() : undefined;
      }, 'GET /health on the chosen port', 10_000);
      expect(text).toBe('ok\n');
      await b.stop(l.id, 0);
    } finally {
      taken.close();
    }
  });

  it('reports an exit code once; the output stays readable after the container is removed', async () => {
    const { b, exits } = backend();
    const l = await launch('echo bye; echo on stderr >&2; exit 3');
    await b.start(l);
    expect(await exits.wait(l.id)).toEqual({ code: 3, signal: null });
    expect(await ofWorker(l.id)).toEqual([]);
    expect(await b.logs(l.id, 10)).toEqual(['bye', 'on stderr']);
    await b.stop(l.id, 1_000); // ended: resolves at once
    expect(exits.of(l.id)).toEqual([{ code: 3, signal: null }]);
  });

  it('pauses and resumes; a paused worker stops too', async () => {
    const { b, exits } = backend();
    const l = await launch(loop());
    const r = await b.start(l);
    await b.pause(l.id);
    let s = (await containerOf(r).inspect()).State;
    expect([s.Status, s.Paused]).toEqual(['paused', true]);
    await b.pause(l.id); // paused already: fine
    await b.resume(l.id);
    s = (await containerOf(r).inspect()).State;
    expect([s.Status, s.Paused, s.Running]).toEqual(['running', false, true]);
    await b.pause(l.id);
    await b.stop(l.id, 0);
    expect(exits.of(l.id)).toHaveLength(1);
    expect(await ofWorker(l.id)).toEqual([]);
  });

  it('stops with a grace: a worker trapping TERM exits cleanly, one ignoring it is killed after the grace', async () => {
    const { b, exits } = backend();
    const clean = await launch("trap 'echo term; exit 0' TERM; echo ready; while :; do sleep 0.1; done");
    const stubborn = await launch("trap '' TERM; echo ready; while :; do sleep 0.1; done");
    await Promise.all([b.start(clean), b.start(stubborn)]);
    await Promise.all([waitForLine(b, clean.id, 'ready'), waitForLine(b, stubborn.id, 'ready')]);

    let t0 = performance.now();
    await b.stop(clean.id, 10_000);
    expect(performance.now() - t0).toBeLessThan(5_000);
    expect(exits.of(clean.id)).toEqual([{ code: 0, signal: null }]);
    expect(await b.logs(clean.id, 10)).toEqual(['ready', 'term']);

    t0 = performance.now();
    await b.stop(stubborn.id, 1_000);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(900);
    expect(exits.of(stubborn.id)).toEqual([{ code: 137, signal: null }]);
  });

  it('a missing image is pulled, and one that cannot be is an error naming it; nothing is left', async () => {
    const { b } = backend();
    const image = 'arbiter-test.invalid/missing:latest';
    const l = await launch('true', { container_image: image });
    await expect(b.start(l)).rejects.toThrow(`worker ${l.id}: image "${image}" is not on the engine and could not be pulled`);
    expect(await ofWorker(l.id)).toEqual([]);
    const { container_image: _, ...noImage } = l.spec;
    await expect(b.start({ ...l, spec: noImage })).rejects.toThrow(/needs spec\.container_image/);
  });

  it('replaces an ended leftover of the same worker; refuses a second start and a name taken by another container', async () => {
    const { b } = backend();
    const l = await launch(loop());
    const leftover = await docker.createContainer({ name: `arbiter-${l.id}`, Image: IMAGE, Cmd: ['true'], Labels: { ...LABELS, 'arbiter.worker': l.id } });
    await leftover.start();
    await leftover.wait();
    const r = await b.start(l);
    expect((await ofWorker(l.id)).map((c) => c.Id)).toEqual([(r.ref as { containerId: string }).containerId]);
    await expect(b.start(l)).rejects.toThrow(`worker ${l.id} is running already`);
    await b.stop(l.id, 0);

    const other = await launch('true');
    const foreign = await docker.createContainer({ name: `arbiter-${other.id}`, Image: IMAGE, Cmd: ['true'], Labels: LABELS });
    await expect(b.start(other)).rejects.toThrow(`worker ${other.id}: a container named arbiter-${other.id} exists already (created)`);
    await foreign.remove();
  });

  it('adopts after close: the same container, not a second; one removed meanwhile and one ended meanwhile reported; strangers listed', async () => {
    const first = backend();
    const [la, lb, lc] = [await launch(loop()), await launch(loop()), await launch(loop(7))];
    const [ra, rb, rc] = [await first.b.start(la), await first.b.start(lb), await first.b.start(lc)];
    await waitForLine(first.b, lc.id, 'ready');
    await first.b.close();

    // while nobody watches: b is removed, c exits with 7, and a stranger appears
    await containerOf(rb).remove({ force: true });
    await containerOf(rc).kill({ signal: 'SIGUSR1' });
    await until(async () => (await containerOf(rc).inspect()).State.Status === 'exited', 'c exited', 10_000);
    const strangerId = `stranger-${RUN}-0`;
    const stranger = await docker.createContainer({
      name: `arbiter-${strangerId}`, Image: IMAGE, Cmd: ['sleep', '600'],
      Labels: { ...LABELS, 'arbiter.worker': strangerId, 'arbiter.group': `stranger-${RUN}`, 'arbiter.replica': '0', 'arbiter.port': '7000' },
    });
    await stranger.start();
    expect(first.exits.all).toEqual([]); // closed: it reported nothing

    const second = backend();
    const { alive, strangers } = await second.b.adopt([ra, rb, rc]);
    expect(alive).toEqual([ra]);
    expect(second.exits.all).toEqual(expect.arrayContaining([[lb.id, { code: null, signal: null }], [lc.id, { code: 7, signal: null }]]));
    expect(second.exits.all).toHaveLength(2);
    expect(await ofWorker(lc.id)).toEqual([]); // ended: removed once its output was kept
    expect(await second.b.logs(lc.id, 5)).toEqual(['ready', 'usr1']);
    expect(strangers.filter((s) => s.id === strangerId)).toEqual([
      { id: strangerId, host: '127.0.0.1', port: 7000, startedAt: expect.any(Number), ref: { kind: 'docker', containerId: stranger.id } },
    ]);
    expect((await ofWorker(la.id)).map((c) => c.Id)).toEqual([(ra.ref as { containerId: string }).containerId]);

    // adopting again changes nothing and reports nothing more
    const again = await second.b.adopt([ra, rb, rc]);
    expect(again.alive).toEqual(alive);
    expect(second.exits.all).toHaveLength(2);

    // the adopted worker is followed: its exit is reported; the stranger stops when told to
    await containerOf(ra).kill({ signal: 'SIGUSR1' });
    expect(await second.exits.wait(la.id)).toEqual({ code: 0, signal: null });
    await second.b.stop(strangerId, 0);
    expect(await ofWorker(strangerId)).toEqual([]);
  });

  it.skipIf(!PODMAN_SCRIPT || !PODMAN_DIR)('follows a worker across a restart of the engine: an exit while it was down is reported once', { timeout: 60_000 }, async () => {
    // an engine of its own to stop and start, so that the docker tests running meanwhile keep theirs
    const own = await ownPodman(PODMAN_SCRIPT!);
    const { b, exits } = backend(own.host);
    try {
      const l = await launch(loop(5));
      const r = await b.start(l);
      await waitForLine(b, l.id, 'ready');
      await own.stop();
      try {
        // the container outlives the service (conmon); it ends while the engine does not answer
        await own.podman('kill', '--signal', 'USR1', (r.ref as { containerId: string }).containerId);
        await until(async () => (await own.podman('inspect', '--format', '{{.State.Status}}', (r.ref as { containerId: string }).containerId)).stdout.trim() === 'exited', 'exited under conmon', 10_000);
        expect(exits.all).toEqual([]);
      } finally {
        await own.start();
      }
      expect(await exits.wait(l.id, 20_000)).toEqual({ code: 5, signal: null });
      expect(exits.of(l.id)).toHaveLength(1);
      expect(await b.logs(l.id, 5)).toEqual(['ready', 'usr1']);
    } finally {
      await b.close();
      await own.close();
    }
  });
});
