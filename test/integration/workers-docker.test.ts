/**
 * Workers as containers, end to end: a real server whose docker backend talks to the Podman (or Docker) engine of
 * test/podman.sh (started by the global setup), driven through the TypeScript client. The workers are
 * `python3 -m arbiter_worker` in an image made here without a registry (test/helpers/worker-image.ts, built once
 * per machine). Replicas run in containers labelled as Arbiter's, with their limits; engines are created and
 * called in each; a replica granted a GPU gets it in its environment; time-slicing pauses a container and unpauses
 * it at its next turn; a container killed on the engine fails its worker with the exit code and frees its
 * allocation; delete removes every container; and Arbiter killed with -9 adopts the running containers after the
 * restart (same ids, same containers, engines still answering).
 *
 * The server's docker backend puts only its own labels on containers; `arbiter.test=1` comes from the image (so
 * `test/podman.sh clean` removes them too). Every group made here has a name unique to this run, and afterAll
 * removes the containers labelled `arbiter.group=<that name>`, whatever the tests did. ARBITER_SKIP_DOCKER_TESTS=1 skips the suite. Nothing sleeps: each step waits for a condition.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ArbiterClientError, ArbiterScheduler, RemoteEngineError } from '../../clients/typescript/arbiter-scheduler.ts';
import { parseDockerHost } from '../../server/monitor/sources/docker/connection.ts';
import type { ContainerSpec, Worker } from '../../shared/workers.ts';
import { exited, freePort, startCliServer, until } from '../helpers/cli-server.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { ensureWorkerImage, podmanCli, type WorkerImage } from '../helpers/worker-image.ts';

const HOST = process.env.ARBITER_TEST_DOCKER_HOST;
const SKIP = process.env.ARBITER_SKIP_DOCKER_TESTS === '1';
const RUN = `${process.pid.toString(36)}${Date.now().toString(36)}`;
const MiB = 2 ** 20;
const CMD = ['python3', '-m', 'arbiter_worker', '--host', '0.0.0.0'];
const ENGINE = 'echo_engine:EchoEngine';

/** every group made here: their containers are removed in afterAll */
const groups = new Set<string>();
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});



describe.skipIf(SKIP)('workers as containers (docker backend on a real engine)', () => {
  let docker: Docker;
  let image: WorkerImage;

  beforeAll(async () => {
    if (!HOST) throw new Error('ARBITER_TEST_DOCKER_HOST is not set: run the docker tests through vitest (its global setup starts test/podman.sh) or set ARBITER_SKIP_DOCKER_TESTS=1');
    docker = new Docker(parseDockerHost(HOST) as Docker.DockerOptions);
    await docker.ping();
    image = await ensureWorkerImage();
    console.info(`worker image ${image.image}: ${image.built ? 'built' : 'found'} in ${image.ms} ms, ${(image.size / 1e6).toFixed(1)} MB, python ${image.python}`);
  }, 300_000);

  afterAll(async () => {
    // whatever happened: no container of this run's groups is left
    for (const g of groups) {
      const left = await docker.listContainers({ all: true, filters: { label: [`arbiter.group=${g}`] } }).catch(() => []);
      await Promise.all(left.map((c) => docker.getContainer(c.Id).remove({ force: true, v: true }).catch(() => {})));
    }
  });

  /** A client of a group unique to this run (registered for the cleanup). */
  function client(s: { url: string; token: string }, trial: string): ArbiterScheduler {
    const c = new ArbiterScheduler({ type: 'arbiter', endpoint: s.url, expr_name: 'exp', trial_name: `${trial}-${RUN}`, token: s.token });
    groups.add(c.group);
    return c;
  }

  const spec = (over: Partial<ContainerSpec> = {}): ContainerSpec => ({ cpu: 250, mem: 128, gpu: 0, container_image: image.image, cmd: CMD, ...over });

  /** the container ids of a group, running or not, as the engine lists them */
  async function containersOf(group: string): Promise<string[]> {
    const { stdout } = await podmanCli(['ps', '-a', '--no-trunc', '-q', '--filter', `label=arbiter.group=${group}`]);
    return stdout.split('\n').filter(Boolean).sort();
  }

  async function server(gpus: number, configure: (c: TestServer['app']['config']) => void = () => {}): Promise<TestServer> {
    const s = await startTestServer({
      hostIntervalMs: 3_600_000,
      configure: (c) => {
        c.resources = { cpu: 16_000, memoryMiB: 32_768, gpus: Array.from({ length: gpus }, (_, index) => ({ index, memoryMiB: 16_384 })) };
        c.workers.graceMs = 3000;
        c.monitor.docker = true; // the docker backend exists with the docker source, on its engine
        c.monitor.dockerHost = HOST;
        c.monitor.dockerIntervalMs = 3_600_000;
        configure(c);
      },
    });
    cleanups.push(async () => {
      for (const name of s.app.workers.liveGroups()) await s.app.workers.delete(name).catch(() => {});
      await s.close();
    });
    return s;
  }

  const containerIdOf = (s: TestServer, id: string): string => {
    const ref = s.app.workers.book.get(id)?.ref;
    if (ref?.kind !== 'docker') throw new Error(`${id} has no container`);
    return ref.containerId;
  };
  const inspect = (s: TestServer, id: string) => docker.getContainer(containerIdOf(s, id)).inspect();
  const envOf = (body: Docker.ContainerInspectInfo): Record<string, string> =>
    Object.fromEntries(body.Config.Env.map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]));
  const logsOf = async (s: { url: string; token: string }, id: string): Promise<string[]> =>
    ((await (await fetch(`${s.url}/api/workers/${encodeURIComponent(id)}/logs?tail=200`, { headers: { authorization: `Bearer ${s.token}` } })).json()) as { lines: string[] }).lines;

  it('runs 3 replicas as containers, calls their engines, gives a GPU replica its device, fails a killed one, and delete removes every container', async () => {
    const s = await server(2);
    const c = client(s, 'dock');
    const made = await c.create_workers({ replicas: 3, backend: 'docker', specs: [spec()] });
    expect(made.map((w) => [w.id, w.backend])).toEqual([0, 1, 2].map((i) => [`${c.group}-${i}`, 'docker']));
    const running = await c.get_workers(60);
    expect(running.map((w) => [w.state, w.host, w.gpus])).toEqual(Array(3).fill(['running', '127.0.0.1', []]));

    for (const w of running) {
      // the container: Arbiter's labels, the limits, the worker's environment, its port published where Arbiter reaches it
      const body = await inspect(s, w.id);
      expect(body.State.Running).toBe(true);
      // (arbiter.test comes from the image: `test/podman.sh clean` removes these containers too)
      expect(body.Config.Labels).toMatchObject({ 'arbiter.worker': w.id, 'arbiter.group': c.group, 'arbiter.replica': String(w.replica), 'arbiter.test': '1' });
      expect(body.HostConfig).toMatchObject({ NanoCpus: 250_000_000, Memory: 128 * MiB });
      const env = envOf(body);
      const containerPort = Number(body.Config.Labels['arbiter.port']);
      expect(env).toMatchObject({ ARBITER_WORKER_ID: w.id, ARBITER_PORT: String(containerPort), NVIDIA_VISIBLE_DEVICES: 'void', CUDA_VISIBLE_DEVICES: '' });
      expect(body.NetworkSettings.Ports[`${containerPort}/tcp`]).toEqual([{ HostIp: '127.0.0.1', HostPort: String(w.port) }]);

      // its engine, called with positional and keyword arguments
      await c.create_engine(w.id, ENGINE, { tag: w.id });
      expect(await c.call_engine(w.id, 'add', 2, 3)).toBe(5);
      expect(await c.call_engine_kw(w.id, 'greet', ['ana'], { greeting: 'hi', punctuation: '!' })).toBe('hi, ana!');
      expect(await c.call_engine(w.id, 'info')).toMatchObject({ worker_id: w.id, cuda_visible_devices: '', config: { tag: w.id } });
      // its output: the line the worker prints when it listens (on the container's interface)
      expect(await logsOf(s, w.id)).toContain(`Worker ${w.id} listening on http://0.0.0.0:${containerPort} (runtime python)`);
    }
    expect(s.app.workers.list(c.group).map((w) => w.engine)).toEqual(Array(3).fill(ENGINE));
    const remote = await c.call_engine(running[0]!.id, 'fail', 'on purpose').catch((e: unknown) => e);
    expect(remote).toBeInstanceOf(RemoteEngineError);
    expect(remote).toMatchObject({ status: 502, remoteType: 'EchoError', message: expect.stringContaining('on purpose') });
    expect((remote as RemoteEngineError).remoteStack).toContain('fail');

    // a replica granted a GPU: its device request, and the variables the NVIDIA toolkit and CUDA read
    const g = client(s, 'gpu');
    await g.create_workers({ replicas: 1, backend: 'docker', specs: [spec({ gpu: 1 })] });
    const gpuWorker = await g.get_workers(60).then(([w]) => w!, (e: unknown) => {
      if (e instanceof ArbiterClientError && e.code === 'not_ready') return s.app.workers.list(g.group)[0]!;
      throw e;
    });
    if (gpuWorker.state === 'running') {
      // Podman without NVIDIA's hook accepts the device request and ignores it: the worker runs
      expect(gpuWorker.gpus).toHaveLength(1);
      const env = envOf(await inspect(s, gpuWorker.id));
      expect(env).toMatchObject({ NVIDIA_VISIBLE_DEVICES: String(gpuWorker.gpus[0]), CUDA_VISIBLE_DEVICES: '0' });
      await g.create_engine(gpuWorker.id, ENGINE);
      expect(await g.call_engine(gpuWorker.id, 'info')).toMatchObject({ worker_id: gpuWorker.id, cuda_visible_devices: '0' });
    } else {
      // an engine that honours device requests without a GPU driver (Docker): the start fails and says why
      expect(gpuWorker.state).toBe('failed');
      expect(gpuWorker.why).toMatch(/^could not start: .*(nvidia|gpu|device)/i);
      expect(s.app.engine.allocation(gpuWorker.allocation_id!)!.state).toBe('released');
      expect(await containersOf(g.group)).toEqual([]);
    }
    await g.delete_workers();
    expect(await containersOf(g.group)).toEqual([]);

    // a container killed on the engine: its worker failed with the exit code, the allocation released, the container removed
    const victim = running[2]!;
    await podmanCli(['kill', containerIdOf(s, victim.id)]);
    const failed = await until(() => s.app.workers.list(c.group).find((w) => w.id === victim.id && w.state === 'failed'), 'killed worker failed');
    expect(failed).toMatchObject({ exit_code: 137, why: expect.stringMatching(/^exited with code 137/) });
    expect(s.app.engine.allocation(victim.allocation_id!)!.state).toBe('released');
    await until(async () => (await containersOf(c.group)).length === 2, 'the killed container removed', 10_000);
    // its output outlives its container
    expect((await logsOf(s, victim.id)).some((l) => l.startsWith(`Worker ${victim.id} listening on`))).toBe(true);
    // the others still answer
    expect(await c.call_engine(running[0]!.id, 'echo', { x: [1, 2] })).toEqual({ x: [1, 2] });

    await c.delete_workers();
    expect(s.app.workers.list(c.group).map((w) => w.state)).toEqual(['stopped', 'stopped', 'failed']);
    expect(await containersOf(c.group)).toEqual([]);
    expect(s.app.engine.listAllocations('active')).toEqual([]);
  }, 90_000);

  it('pauses a container while time-slicing suspends its allocation and unpauses it at its next turn', async (ctx) => {
    const s = await server(1, (c) => { c.scheduler.strategy = 'time_slicing'; });
    const put = await fetch(`${s.url}/api/strategy`, { method: 'PUT', headers: { authorization: `Bearer ${s.token}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'time_slicing', config: { quantumMs: 3000, queueThresholds: [1000] } }) });
    expect(put.status).toBe(200);
    const a = client(s, 'first');
    const b = client(s, 'second');
    await a.create_workers({ replicas: 1, backend: 'docker', specs: [spec({ gpu: 1 })] });
    const first = await a.get_workers(60).then(([w]) => w!, () => s.app.workers.list(a.group)[0]!);
    // time-slicing rotates GPU requests only: where a container cannot be given a GPU, there is nothing to rotate
    if (first.state !== 'running') ctx.skip(`a container with a GPU cannot start on this engine: ${first.why}`);
    await a.create_engine(first.id, ENGINE, { tag: 'first' });
    await b.create_workers({ replicas: 1, backend: 'docker', specs: [spec({ gpu: 1 })] });
    const secondId = `${b.group}-0`;
    /** the worker in `state` in Arbiter's book and its container paused or not: read both, and the book again (a consistent reading) */
    const seen = (group: string, id: string, state: Worker['state'], paused: boolean) => until(async () => {
      const now = () => s.app.workers.list(group)[0]!.state;
      if (now() !== state) return undefined;
      const st = (await inspect(s, id)).State;
      return now() === state && st.Paused === paused ? st : undefined;
    }, `${id} ${state} with its container ${paused ? '' : 'not '}paused`);

    // the first is suspended (its container paused) and the second given the GPU (its container running); at the
    // next turn the other way round. (The second may be paused before it answers /health: a container starts slower
    // than its quantum on a loaded machine, so it is `starting` or `running` while it holds the GPU.)
    expect(await seen(a.group, first.id, 'suspended', true)).toMatchObject({ Status: 'paused', Running: true });
    expect(await until(async () => {
      const w = s.app.workers.list(b.group)[0]!;
      if (!['starting', 'running'].includes(w.state) || !s.app.workers.book.get(secondId)?.ref) return undefined;
      const st = (await inspect(s, secondId)).State;
      return s.app.workers.list(a.group)[0]!.state === 'suspended' && st.Paused === false ? st : undefined;
    }, 'second given the GPU while the first is suspended')).toMatchObject({ Status: 'running' });
    expect(await seen(a.group, first.id, 'running', false)).toMatchObject({ Status: 'running' });
    expect(await seen(b.group, secondId, 'suspended', true)).toMatchObject({ Status: 'paused' });
    // the first's engine, made before its pause, answers again
    expect(await a.call_engine(first.id, 'info')).toMatchObject({ worker_id: first.id, cuda_visible_devices: '0', config: { tag: 'first' } });

    // a paused container stops too, and is removed
    await b.delete_workers();
    await a.delete_workers();
    expect([...(await containersOf(a.group)), ...(await containersOf(b.group))]).toEqual([]);
  }, 60_000);

  it('killed with -9, Arbiter adopts its running containers after the restart: same ids, same containers, engines still answer', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'arbiter-workers-docker-'));
    cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
    const port = await freePort();
    const token = 'workers-docker-kill-token-0123';
    const url = `http://127.0.0.1:${port}`;
    const configFile = join(dataDir, 'arbiter.yaml');
    writeFileSync(configFile, 'resources:\n  cpu: 8000\n  memoryMiB: 16384\n  gpus: []\n');
    const start = () => startCliServer({ port, dataDir, token, dockerHost: HOST!, args: ['--config', configFile], onCleanup: (fn) => cleanups.push(fn) });
    let arbiter = await start();
    const c = client({ url, token }, 'kept');
    // whatever happens, no worker outlives the test (afterAll removes what is left of the group)
    cleanups.push(() => c.delete_workers().catch(() => {}));
    await c.create_workers({ replicas: 2, backend: 'docker', specs: [spec()] });
    const before = await c.get_workers(60);
    for (const w of before) await c.create_engine(w.id, ENGINE, { tag: w.id });
    const containers = await containersOf(c.group);
    expect(containers).toHaveLength(2);

    arbiter.kill('SIGKILL');
    await exited(arbiter);
    // the containers outlived it, and still answer
    expect(await containersOf(c.group)).toEqual(containers);
    for (const w of before) expect((await fetch(`http://${w.host}:${w.port}/health`)).status).toBe(200);

    arbiter = await start();
    const after = await c.get_workers(30);
    expect(after.map((w) => [w.id, w.state, w.port, w.started_at, w.engine])).toEqual(before.map((w) => [w.id, 'running', w.port, w.started_at, ENGINE]));
    // the same containers, not new ones
    expect(await containersOf(c.group)).toEqual(containers);
    for (const w of after) {
      expect(await c.call_engine(w.id, 'info')).toMatchObject({ worker_id: w.id, config: { tag: w.id } });
      // started once: one listening line in its output
      expect((await logsOf({ url, token }, w.id)).filter((l) => l.includes('listening on'))).toHaveLength(1);
    }
    await c.delete_workers();
    const ended = ((await (await fetch(`${url}/api/workers?name=${encodeURIComponent(c.group)}`, { headers: { authorization: `Bearer ${token}` } })).json()) as { workers: Worker[] }).workers;
    expect(ended.map((w) => w.state)).toEqual(['stopped', 'stopped']);
    expect(await containersOf(c.group)).toEqual([]);
  }, 60_000);
});
