/**
 * The `docker` backend: each replica a container of a Docker (or Podman) engine, reached over the Docker Engine
 * API at the address the docker source uses. This module keeps the workers and their exits; its parts:
 * docker/create.ts makes the create options and reads a container back into a `Running` (labels `arbiter.worker`,
 * `arbiter.group`, `arbiter.replica`, `arbiter.port`); docker/launch.ts creates and starts a container (pull, port
 * fallback, leftovers); docker/watch.ts follows each container to its end with its own `wait` request;
 * docker/output.ts cuts the engine's log bodies into lines; docker/engine.ts is the engine client.
 *
 * - start: create (pulling the image when it is not there) and start; `launch.port/tcp` is published on 127.0.0.1,
 *   on the same host port when it is free, else on one the engine chooses (read back with inspect).
 * - An ended worker's container is removed once its last `keptLines` lines are read: nothing is left behind, and
 *   `logs()` answers from those lines. Its exit is reported after that, once, with the engine's exit code (a death
 *   by signal shows as 128 + n, as the engine reports it; `signal` stays null — a container's status does not tell
 *   `kill -9` from `exit 137`), or code null when the container vanished without a status.
 * - stop: `docker stop -t ceil(graceMs / 1000)` (the engine counts whole seconds), unpausing first (Podman refuses
 *   to stop a paused container); resolves once the exit is reported and the container removed.
 * - adopt: containers labelled `arbiter.worker` are listed; the known ones alive are followed again; the known ones
 *   ended or gone are reported; the others are `strangers`, left alone — until the service stops one (it is then
 *   followed, stopped and removed like a worker), pauses, resumes or reads the logs of one.
 * - close: stops following; never stops a container.
 */
import { ArbiterError } from '../../errors.ts';
import { systemClock, type Clock } from '../../clock.ts';
import { resolveTarget } from '../../monitor/sources/docker/connection.ts';
import type { Backend, Exit, ExitListener, Launch, Running } from './backend.ts';
import { exitCodeOf, isAlive, LABELS, runningOf } from './docker/create.ts';
import { containerGone, dockerodeEngine, engineMessage, type WorkerEngine } from './docker/engine.ts';
import { launchContainer } from './docker/launch.ts';
import { resolveBackendOptions, type DockerBackendOptions, type DockerBackendSettings } from './docker/options.ts';
import { lastLines, logLines } from './docker/output.ts';
import { ExitWatch, type WatchEnd } from './docker/watch.ts';

export { DOCKER_BACKEND_DEFAULTS, type DockerBackendOptions } from './docker/options.ts';

interface Live {
  running: Running;
  containerId: string;
  tty: boolean;
  watch: ExitWatch;
  /** settles once its exit is reported and its container removed (or the watch was cancelled by close) */
  settled: Promise<void>;
}

export class DockerBackend implements Backend {
  readonly kind = 'docker' as const;
  private readonly s: DockerBackendSettings;
  private readonly clock: Clock;
  private client: Promise<WorkerEngine> | null = null;
  private readonly live = new Map<string, Live>();
  /** the kept output of ended workers, oldest first */
  private readonly ended = new Map<string, string[]>();
  /** containers labelled as workers that adopt found and nobody knew: worker id → container id */
  private readonly strangers = new Map<string, string>();
  private readonly listeners = new Set<ExitListener>();
  private closed = false;

  constructor(private readonly opts: DockerBackendOptions = {}) {
    this.s = resolveBackendOptions(opts);
    this.clock = opts.clock ?? systemClock;
  }

  async start(launch: Launch): Promise<Running> {
    if (this.closed) throw new Error('the docker backend is closed');
    const image = launch.spec.container_image;
    if (!image) throw new ArbiterError(400, 'invalid_request', `worker ${launch.id}: the docker backend needs spec.container_image`);
    if (this.live.has(launch.id)) throw new Error(`worker ${launch.id} is running already (container ${this.live.get(launch.id)!.containerId.slice(0, 12)})`);
    const body = await launchContainer(await this.engine(), launch, image, this.s);
    const running = runningOf(body, launch.id);
    this.follow(running, body.Config?.Tty === true);
    return running;
  }

  async stop(id: string, graceMs: number): Promise<void> {
    let w = this.live.get(id);
    const stranger = this.strangers.get(id);
    if (!w && stranger && !this.closed) {
      // a stranger the service decided to stop: followed from now on, so that it ends like a worker
      const body = await (await this.engine()).inspect(stranger).catch(notFound(null));
      this.strangers.delete(id);
      if (body) w = this.follow(runningOf(body, id), body.Config?.Tty === true);
    }
    if (!w) return;
    const engine = await this.engine();
    const body = await engine.inspect(w.containerId).catch(notFound(null));
    if (body && isAlive(body)) {
      if (body.State?.Paused) await engine.unpause(w.containerId).catch(notFound(undefined));
      await engine.stop(w.containerId, Math.ceil(Math.max(0, graceMs) / 1000)).catch(notFound(undefined));
    }
    await w.settled;
  }

  async pause(id: string): Promise<void> {
    await this.toggle(id, true);
  }

  async resume(id: string): Promise<void> {
    await this.toggle(id, false);
  }

  async adopt(known: readonly Running[]): Promise<{ alive: Running[]; strangers: Running[] }> {
    if (this.closed) throw new Error('the docker backend is closed');
    const engine = await this.engine();
    const listed = await engine.list(LABELS.worker);
    const claimed = new Set<string>();
    const alive: Running[] = [];
    const ending: Promise<void>[] = [];
    for (const k of known) {
      if (k.ref.kind !== 'docker') continue;
      const ref = k.ref.containerId;
      const found = listed.find((c) => c.Id === ref) ?? (ref.length >= 12 ? listed.find((c) => c.Id.startsWith(ref)) : undefined);
      if (found) claimed.add(found.Id);
      const mine = this.live.get(k.id);
      if (mine && mine.containerId === found?.Id) {
        alive.push(mine.running);
        continue;
      }
      const body = found ? await engine.inspect(found.Id).catch(notFound(null)) : null;
      if (!body) {
        if (!this.ended.has(k.id)) this.report(k.id, { code: null, signal: null }, []);
        continue;
      }
      const w = this.follow(runningOf(body, k.id), body.Config?.Tty === true);
      if (isAlive(body)) alive.push(w.running);
      else ending.push(w.settled); // its watch finds it ended at once: output kept, container removed, exit reported
    }
    await Promise.all(ending);
    const strangers: Running[] = [];
    const followed = new Set([...this.live.values()].map((w) => w.containerId));
    for (const c of listed) {
      if (claimed.has(c.Id) || followed.has(c.Id)) continue;
      const body = await engine.inspect(c.Id).catch(notFound(null));
      if (!body) continue;
      const r = runningOf(body);
      this.strangers.set(r.id, c.Id);
      strangers.push(r);
    }
    return { alive, strangers };
  }

  onExit(listener: ExitListener): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  async logs(id: string, tail: number): Promise<string[]> {
    const w = this.live.get(id);
    const containerId = w?.containerId ?? this.strangers.get(id);
    if (containerId) {
      try {
        const body = await (await this.engine()).logs(containerId, tail);
        return lastLines(logLines(body, w?.tty ?? false), tail);
      } catch (err) {
        if (!containerGone(err)) throw err;
        await w?.settled; // it ended meanwhile: its lines are kept
      }
    }
    return lastLines(this.ended.get(id) ?? [], tail);
  }

  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.live.values()];
    for (const w of all) w.watch.cancel();
    await Promise.all(all.map((w) => w.settled));
    this.live.clear();
  }

  // ---------------------------------------------------------------------------------------------------- parts

  private engine(): Promise<WorkerEngine> {
    if (this.opts.engine) return Promise.resolve(this.opts.engine);
    this.client ??= resolveTarget(this.opts.dockerHost, this.opts.env ?? process.env).then((t) => {
      if (!t) throw new Error('no Docker engine: no DOCKER_HOST and no engine socket (/var/run/docker.sock, Podman\'s…) on this machine');
      return dockerodeEngine(t, this.s);
    });
    this.client.catch(() => (this.client = null)); // not kept: the next call looks again
    return this.client;
  }

  /** Follow a worker's container until it ends: then keep its output, remove it, report its exit. */
  private follow(running: Running, tty: boolean): Live {
    const containerId = running.ref.kind === 'docker' ? running.ref.containerId : '';
    const watch = new ExitWatch(() => this.engine(), containerId, {
      clock: this.clock,
      reconnectMinMs: this.s.reconnectMinMs,
      reconnectMaxMs: this.s.reconnectMaxMs,
      onRetry: (cid, err, delayMs) => this.opts.log?.warn({ worker: running.id, container: cid, err: String(err), delayMs }, 'docker worker: wait failed, trying again'),
    });
    const w: Live = { running, containerId, tty, watch, settled: Promise.resolve() };
    w.settled = watch.ended.then((end) => this.finish(w, end)).catch((err: unknown) => {
      this.opts.log?.warn({ worker: running.id, container: containerId, err: String(err) }, 'docker worker: its end was not handled');
    });
    this.live.set(running.id, w);
    this.ended.delete(running.id);
    return w;
  }

  private async finish(w: Live, end: WatchEnd): Promise<void> {
    if (end.kind === 'cancelled') return;
    const engine = await this.engine();
    let lines: string[] = [];
    if (end.kind === 'exited') {
      lines = await engine.logs(w.containerId, this.s.keptLines).then((b) => logLines(b, w.tty), () => []);
      await engine.remove(w.containerId).catch((err: unknown) => {
        this.opts.log?.warn({ worker: w.running.id, container: w.containerId, err: String(err) }, 'docker worker: container not removed');
      });
    }
    if (this.live.get(w.running.id) === w) this.live.delete(w.running.id);
    this.report(w.running.id, { code: end.kind === 'exited' ? exitCodeOf(end.body) : null, signal: null }, lines);
  }

  private report(id: string, exit: Exit, lines: string[]): void {
    this.ended.delete(id);
    this.ended.set(id, lastLines(lines, this.s.keptLines));
    while (this.ended.size > this.s.keptWorkers) this.ended.delete(this.ended.keys().next().value!);
    for (const l of [...this.listeners]) {
      try {
        l(id, exit);
      } catch (err) {
        this.opts.log?.warn({ worker: id, err: String(err) }, 'docker worker: an exit listener threw');
      }
    }
  }

  /** pause / unpause, done when the container is in that state already; nothing for a worker that has ended. */
  private async toggle(id: string, pause: boolean): Promise<void> {
    const containerId = this.live.get(id)?.containerId ?? this.strangers.get(id);
    if (!containerId) {
      if (this.ended.has(id)) return;
      throw new Error(`no docker worker ${id}`);
    }
    const engine = await this.engine();
    try {
      await (pause ? engine.pause(containerId) : engine.unpause(containerId));
    } catch (err) {
      if (containerGone(err)) return; // it ended meanwhile: its exit is reported
      const body = await engine.inspect(containerId).catch(notFound(null));
      if (!body || !isAlive(body) || (body.State?.Paused === true) === pause) return;
      throw new Error(`worker ${id}: could not ${pause ? 'pause' : 'resume'} its container: ${engineMessage(err)}`);
    }
  }
}

/** A catch handler: `value` when the engine says the container is gone, the error again otherwise. */
function notFound<T>(value: T): (err: unknown) => T {
  return (err) => {
    if (containerGone(err)) return value;
    throw err;
  };
}
