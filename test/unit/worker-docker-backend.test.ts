/**
 * The docker backend without an engine: what it asks the engine for (the create options of a Launch, GPUs
 * included — there is no GPU on the test machine, so this is where device requests are shown), how it falls back
 * when the host port is taken or the image is missing, the exit reported once, and the log bodies cut into lines.
 * The engine is a fake of the backend's engine interface; test/integration/worker-docker-backend.test.ts runs the
 * same backend against a real one.
 */
import type Docker from 'dockerode';
import { describe, expect, it } from 'vitest';
import type { Exit, Launch } from '../../server/runtime/workers/backend.ts';
import { DockerBackend } from '../../server/runtime/workers/docker.ts';
import { containerName, createOptions, runningOf } from '../../server/runtime/workers/docker/create.ts';
import type { ListedContainer, WorkerEngine, WorkerInspect } from '../../server/runtime/workers/docker/engine.ts';
import { lastLines, logLines } from '../../server/runtime/workers/docker/output.ts';

const MiB = 2 ** 20;

function launch(over: Partial<Launch> = {}): Launch {
  return {
    id: 'train-1',
    group: 'train',
    replica: 1,
    spec: { cpu: 1500, gpu: 2, mem: 512, container_image: 'localhost/busybox:latest', cmd: 'python serve.py', env_vars: { MODE: 'fast' } },
    gpus: [1, 3],
    port: 8000,
    env: { MODE: 'fast', ARBITER_WORKER_ID: 'train-1', ARBITER_PORT: '8000', CUDA_VISIBLE_DEVICES: '1,3', NVIDIA_VISIBLE_DEVICES: '1,3' },
    ...over,
  };
}

/** One frame of a multiplexed log body. */
function frame(stream: 1 | 2, text: string | Buffer): Buffer {
  const payload = typeof text === 'string' ? Buffer.from(text) : text;
  const h = Buffer.alloc(8);
  h[0] = stream;
  h.writeUInt32BE(payload.length, 4);
  return Buffer.concat([h, payload]);
}

const httpError = (statusCode: number, message: string) => Object.assign(new Error(`(HTTP code ${statusCode}) ${message}`), { statusCode, json: { message } });

/** An engine in memory: containers by id, each waiting until `exit` is called. */
class FakeEngine implements WorkerEngine {
  readonly calls: string[] = [];
  readonly created: Docker.ContainerCreateOptions[] = [];
  readonly containers = new Map<string, { opts: Docker.ContainerCreateOptions; state: 'created' | 'running' | 'exited'; code: number; hostPort: string; exited: () => void; done: Promise<void> }>();
  images = new Set(['localhost/busybox:latest']);
  takenPorts = new Set<string>();
  pullError: string | null = null;
  logBody = Buffer.concat([frame(1, 'hello\n'), frame(2, 'oops\n')]);
  private seq = 0;

  async create(opts: Docker.ContainerCreateOptions): Promise<string> {
    this.calls.push(`create ${opts.name}`);
    if (!this.images.has(opts.Image!)) throw httpError(404, `no such image: ${opts.Image}: image not known`);
    this.created.push(opts);
    const id = `c${++this.seq}`.padEnd(64, '0');
    let exited = () => {};
    const done = new Promise<void>((r) => (exited = r));
    const hostPort = Object.values(opts.HostConfig!.PortBindings as Record<string, { HostPort: string }[]>)[0]![0]!.HostPort;
    this.containers.set(id, { opts, state: 'created', code: 0, hostPort, exited, done });
    return id;
  }

  async start(id: string): Promise<void> {
    this.calls.push(`start ${id.slice(0, 2)}`);
    const c = this.containers.get(id)!;
    if (c.hostPort !== '' && this.takenPorts.has(c.hostPort)) throw httpError(500, `cannot listen on the TCP port: listen tcp4 127.0.0.1:${c.hostPort}: bind: address already in use`);
    if (c.hostPort === '') c.hostPort = '40123';
    c.state = 'running';
  }

  /** containers listed but gone by the time they are inspected, answered as Podman does then */
  readonly vanishing = new Set<string>();

  async inspect(id: string): Promise<WorkerInspect> {
    if (this.vanishing.has(id)) throw httpError(500, `container ${id} does not exist in database: no such container`);
    const c = this.containers.get(id);
    if (!c) throw httpError(404, 'no such container');
    const port = Object.keys(c.opts.ExposedPorts!)[0]!;
    return {
      Id: id,
      Created: '2026-01-01T00:00:00Z',
      State: { Status: c.state, Running: c.state === 'running', Paused: false, ExitCode: c.code, StartedAt: '2026-01-01T00:00:01.5Z' },
      Config: { Labels: c.opts.Labels!, Tty: false },
      NetworkSettings: { Ports: { [port]: [{ HostIp: '127.0.0.1', HostPort: c.hostPort }] } },
    };
  }

  async wait(id: string, signal: AbortSignal): Promise<void> {
    const c = this.containers.get(id);
    if (!c) throw httpError(404, 'no such container');
    await new Promise<void>((resolve, reject) => {
      signal.addEventListener('abort', () => reject(Object.assign(new Error('aborted'), { name: 'AbortError' })), { once: true });
      void c.done.then(resolve);
    });
  }

  exit(id: string, code: number): void {
    const c = this.containers.get(id)!;
    c.state = 'exited';
    c.code = code;
    c.exited();
  }

  async stop(id: string): Promise<void> {
    this.calls.push(`stop ${id.slice(0, 2)}`);
    this.exit(id, 143);
  }

  async pause(): Promise<void> {}
  async unpause(): Promise<void> {}

  async remove(id: string): Promise<void> {
    this.calls.push(`remove ${id.slice(0, 2)}`);
    this.containers.delete(id);
  }

  async logs(id: string): Promise<Buffer> {
    this.calls.push(`logs ${id.slice(0, 2)}`);
    return this.logBody;
  }

  async list(): Promise<ListedContainer[]> {
    const gone = [...this.vanishing].map((Id) => ({ Id, Labels: { 'arbiter.worker': `gone-${Id.slice(0, 4)}` } }));
    return [...[...this.containers].map(([Id, c]) => ({ Id, Labels: c.opts.Labels! })), ...gone];
  }

  async pull(image: string): Promise<void> {
    this.calls.push(`pull ${image}`);
    if (this.pullError) throw new Error(this.pullError);
    this.images.add(image);
  }
}

function backendWith(engine: FakeEngine): { backend: DockerBackend; exits: [string, Exit][] } {
  const backend = new DockerBackend({ engine, labels: { 'arbiter.test': '1' } });
  const exits: [string, Exit][] = [];
  backend.onExit((id, exit) => exits.push([id, exit]));
  return { backend, exits };
}

describe('docker backend: the create options of a Launch', () => {
  it('asks for exactly the granted GPUs, the cpu and memory limits, the labels and the port published on 127.0.0.1', async () => {
    const engine = new FakeEngine();
    const { backend } = backendWith(engine);
    const running = await backend.start(launch());
    expect(engine.created).toHaveLength(1);
    expect(engine.created[0]).toEqual({
      name: 'arbiter-train-1',
      Image: 'localhost/busybox:latest',
      Cmd: ['/bin/sh', '-c', 'python serve.py'],
      // the container sees only GPUs 1 and 3, numbered 0 and 1
      Env: ['MODE=fast', 'ARBITER_WORKER_ID=train-1', 'ARBITER_PORT=8000', 'CUDA_VISIBLE_DEVICES=0,1', 'NVIDIA_VISIBLE_DEVICES=1,3'],
      Labels: { 'arbiter.test': '1', 'arbiter.worker': 'train-1', 'arbiter.group': 'train', 'arbiter.replica': '1', 'arbiter.port': '8000' },
      Tty: false,
      ExposedPorts: { '8000/tcp': {} },
      HostConfig: {
        PortBindings: { '8000/tcp': [{ HostIp: '127.0.0.1', HostPort: '8000' }] },
        RestartPolicy: { Name: 'no' },
        Init: true,
        NanoCpus: 1_500_000_000,
        Memory: 512 * MiB,
        DeviceRequests: [{ Driver: 'nvidia', DeviceIDs: ['1', '3'], Capabilities: [['gpu']] }],
      },
    });
    const id = [...engine.containers.keys()][0]!;
    expect(running).toEqual({ id: 'train-1', host: '127.0.0.1', port: 8000, startedAt: Date.parse('2026-01-01T00:00:01.5Z'), ref: { kind: 'docker', containerId: id } });
    await backend.close();
  });

  it('without GPUs, cpu or memory: no device request, no limits, and NVIDIA_VISIBLE_DEVICES=void; an argv is the command as it is', () => {
    const o = createOptions(launch({ id: 'a/b c-0', gpus: [], spec: { cpu: 0, gpu: 0, mem: 0, cmd: ['httpd', '-f'] }, env: {} }), 'img', '', { labels: {}, init: false });
    expect(o.name).toBe('arbiter-a_b_c-0');
    expect(o.Cmd).toEqual(['httpd', '-f']);
    expect(o.Env).toEqual(['NVIDIA_VISIBLE_DEVICES=void', 'CUDA_VISIBLE_DEVICES=']);
    expect(o.HostConfig).toEqual({ PortBindings: { '8000/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }] }, RestartPolicy: { Name: 'no' }, Init: false });
    expect(containerName('g.x_y-2')).toBe('arbiter-g.x_y-2');
  });

  it('rebuilds a Running from the labels and inspect: the published host port, the start time', () => {
    const body: WorkerInspect = {
      Id: 'abc',
      Created: '2026-01-01T00:00:00Z',
      State: { Status: 'running', StartedAt: '0001-01-01T00:00:00Z' },
      Config: { Labels: { 'arbiter.worker': 'w-3', 'arbiter.port': '9000' } },
      NetworkSettings: { Ports: { '9000/tcp': [{ HostIp: '127.0.0.1', HostPort: '41000' }] } },
    };
    expect(runningOf(body)).toEqual({ id: 'w-3', host: '127.0.0.1', port: 41000, startedAt: Date.parse('2026-01-01T00:00:00Z'), ref: { kind: 'docker', containerId: 'abc' } });
    expect(runningOf({ Id: 'x', Config: { Labels: {} } }).port).toBe(0);
  });

  it('refuses a spec without an image, and options that contradict each other', async () => {
    const { backend } = backendWith(new FakeEngine());
    const { container_image: _, ...spec } = launch().spec;
    await expect(backend.start(launch({ spec }))).rejects.toMatchObject({ status: 400, code: 'invalid_request', message: expect.stringMatching(/train-1.*container_image/) });
    expect(() => new DockerBackend({ reconnectMinMs: 5000, reconnectMaxMs: 100 })).toThrow(/reconnectMinMs \(5000\).*reconnectMaxMs \(100\)/);
    expect(() => new DockerBackend({ labels: { 'arbiter.worker': 'x' } })).toThrow(/arbiter\.worker/);
  });
});

describe('docker backend: fallbacks and exits against a fake engine', () => {
  it('publishes on a port the engine chooses when the host port is taken', async () => {
    const engine = new FakeEngine();
    engine.takenPorts.add('8000');
    const { backend } = backendWith(engine);
    const running = await backend.start(launch());
    expect(engine.created.map((o) => (o.HostConfig!.PortBindings as Record<string, { HostPort: string }[]>)['8000/tcp']![0]!.HostPort)).toEqual(['8000', '']);
    expect(running.port).toBe(40123);
    // the container that could not start was removed before the second was made
    expect(engine.calls.slice(0, 5)).toEqual(['create arbiter-train-1', 'start c1', 'remove c1', 'create arbiter-train-1', 'start c2']);
    expect(engine.containers.size).toBe(1);
    await backend.close();
  });

  it('pulls an image that is not there; one that cannot be pulled is an error naming it', async () => {
    const engine = new FakeEngine();
    const { backend } = backendWith(engine);
    await backend.start(launch({ spec: { ...launch().spec, container_image: 'example.org/app:1' } }));
    expect(engine.calls.slice(0, 3)).toEqual(['create arbiter-train-1', 'pull example.org/app:1', 'create arbiter-train-1']);
    engine.pullError = 'pinging container registry example.invalid: no such host';
    await expect(backend.start(launch({ id: 'other-0', spec: { ...launch().spec, container_image: 'example.invalid/x:2' } })))
      .rejects.toThrow('worker other-0: image "example.invalid/x:2" is not on the engine and could not be pulled: pinging container registry example.invalid: no such host');
    await backend.close();
  });

  it('reports an exit once, after keeping the output and removing the container; stop of an ended worker resolves at once', async () => {
    const engine = new FakeEngine();
    const { backend, exits } = backendWith(engine);
    const running = await backend.start(launch());
    const id = running.ref.kind === 'docker' ? running.ref.containerId : '';
    const reported = new Promise<void>((r) => backend.onExit(() => r()));
    engine.exit(id, 3);
    await reported;
    expect(exits).toEqual([['train-1', { code: 3, signal: null }]]);
    expect(engine.calls.slice(-2)).toEqual(['logs c1', 'remove c1']);
    expect(await backend.logs('train-1', 10)).toEqual(['hello', 'oops']);
    await backend.stop('train-1', 1000);
    await backend.pause('train-1'); // ended: nothing to do
    expect(await backend.adopt([running])).toEqual({ alive: [], strangers: [] });
    expect(exits).toHaveLength(1);
    await expect(backend.pause('never-0')).rejects.toThrow(/no docker worker never-0/);
    await backend.close();
  });

  it('adopts past containers removed between the list and their inspect (Podman answers 500 "no such container" then)', async () => {
    const engine = new FakeEngine();
    const first = backendWith(engine).backend;
    const running = await first.start(launch());
    await first.close();
    const gone = 'e'.repeat(64);
    engine.vanishing.add(gone); // a stranger, removed by someone else meanwhile
    const { backend, exits } = backendWith(engine);
    const { alive, strangers } = await backend.adopt([running, { ...running, id: 'train-2', ref: { kind: 'docker', containerId: gone } }]);
    expect(alive.map((r) => r.id)).toEqual(['train-1']);
    expect(strangers).toEqual([]);
    expect(exits).toEqual([['train-2', { code: null, signal: null }]]);
    await backend.close();
  });

  it('stop resolves once the exit is reported', async () => {
    const engine = new FakeEngine();
    const { backend, exits } = backendWith(engine);
    await backend.start(launch());
    await backend.stop('train-1', 2500);
    expect(exits).toEqual([['train-1', { code: 143, signal: null }]]);
    expect(engine.containers.size).toBe(0);
    await backend.close();
  });
});

describe('docker backend: log bodies as lines', () => {
  it('demultiplexes stdout and stderr in order, joining a line split over frames and a UTF-8 character split over two', () => {
    const euro = Buffer.from('€');
    const body = Buffer.concat([
      frame(1, 'one\ntw'),
      frame(2, 'err 1\n'),
      frame(1, Buffer.concat([Buffer.from('o '), euro.subarray(0, 1)])),
      frame(1, Buffer.concat([euro.subarray(1), Buffer.from('\r\nthree')])),
    ]);
    expect(logLines(body, false)).toEqual(['one', 'err 1', 'two €', 'three']);
  });

  it('reads a TTY body (or one that is not framed) as raw text', () => {
    expect(logLines(Buffer.from('a\nb\n'), true)).toEqual(['a', 'b']);
    expect(logLines(Buffer.from('plain text\n'), false)).toEqual(['plain text']);
    expect(logLines(Buffer.alloc(0), false)).toEqual([]);
    expect(lastLines(['a', 'b', 'c'], 2)).toEqual(['b', 'c']);
    expect(lastLines(['a'], 0)).toEqual([]);
  });
});
