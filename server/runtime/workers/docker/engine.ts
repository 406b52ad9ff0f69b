/**
 * The engine calls the docker backend makes, through dockerode, over the connection the docker source resolves
 * (monitor/sources/docker/connection.ts: `--docker-host`, DOCKER_HOST, the usual sockets). Short calls are bounded
 * by a timeout. `wait` is not (it lasts as long as the container) but can be aborted, and is a request of our own:
 * the engine sends its headers at once and the body when the container ends, and dockerode's promise neither
 * settles when the connection drops after the headers (the engine restarted) nor when its abort signal fires then.
 * Errors keep dockerode's shape: `statusCode` for an HTTP answer, `code` for a socket error.
 */
import http from 'node:http';
import https from 'node:https';
import type { Readable } from 'node:stream';
import Docker from 'dockerode';
import type { EngineTarget } from '../../../monitor/sources/docker/connection.ts';
import { containerGone } from '../../../monitor/sources/docker/engine.ts';
import { JsonLines } from '../../../monitor/sources/docker/events.ts';
import type { InspectBody } from '../../../monitor/sources/docker/inspect.ts';

/** What the backend reads of an inspect body (Docker and Podman both send these). */
export type WorkerInspect = InspectBody & { Config?: { Tty?: boolean } };

export interface ListedContainer {
  Id: string;
  Labels?: Record<string, string> | null;
  State?: string;
}

export interface WorkerEngine {
  /** `POST /containers/create`; the new container's id */
  create(opts: Docker.ContainerCreateOptions): Promise<string>;
  start(id: string): Promise<void>;
  inspect(id: string): Promise<WorkerInspect>;
  /** resolves once the container is no longer running (or is gone); rejects when `signal` aborts */
  wait(id: string, signal: AbortSignal): Promise<void>;
  /** SIGTERM (or the image's stop signal), SIGKILL after `t` seconds; resolves once it has stopped */
  stop(id: string, t: number): Promise<void>;
  pause(id: string): Promise<void>;
  unpause(id: string): Promise<void>;
  /** forced, with its anonymous volumes */
  remove(id: string): Promise<void>;
  /** the last `tail` lines of stdout and stderr as the engine sends them (multiplexed unless the container has a TTY) */
  logs(id: string, tail: number): Promise<Buffer>;
  /** every container, running or not, carrying `label` */
  list(label: string): Promise<ListedContainer[]>;
  /** pull an image; rejects with the engine's message when the pull fails (the stream's `error` line) */
  pull(image: string): Promise<void>;
}

export interface EngineTimeouts {
  requestTimeoutMs: number;
  pullTimeoutMs: number;
}

export function dockerodeEngine(t: EngineTarget, timeouts: EngineTimeouts): WorkerEngine {
  // as the docker source builds its client (api.ts): no API version in the path, no custom agent
  const d = new Docker(t.kind === 'unix' ? { socketPath: t.socketPath } : { host: t.host, port: t.port, protocol: t.protocol });
  const bounded = (ms = timeouts.requestTimeoutMs) => ({ abortSignal: AbortSignal.timeout(ms) });
  const c = (id: string) => d.getContainer(id);
  return {
    create: async (opts) => (await d.createContainer({ ...opts, ...bounded() })).id,
    start: async (id) => void (await c(id).start(bounded())),
    inspect: (id) => c(id).inspect(bounded()) as Promise<WorkerInspect>,
    wait: (id, signal) => waitRequest(t, id, signal),
    stop: async (id, t) => {
      try {
        await c(id).stop({ t, ...bounded(t * 1000 + timeouts.requestTimeoutMs) } as Docker.ContainerStopOptions);
      } catch (err) {
        if (statusOf(err) !== 304) throw err; // 304: not running
      }
    },
    pause: async (id) => void (await c(id).pause(bounded())),
    unpause: async (id) => void (await c(id).unpause(bounded())),
    remove: async (id) => {
      try {
        await c(id).remove({ force: true, v: true, ...bounded() } as Docker.ContainerRemoveOptions);
      } catch (err) {
        if (!containerGone(err)) throw err;
      }
    },
    logs: (id, tail) => c(id).logs({ stdout: true, stderr: true, tail, follow: false, ...bounded() }),
    list: (label) => d.listContainers({ all: true, filters: { label: [label] }, ...bounded() }) as Promise<ListedContainer[]>,
    pull: async (image) => {
      const stream = (await d.pull(image, bounded(timeouts.pullTimeoutMs))) as Readable;
      await new Promise<void>((resolve, reject) => {
        let failure: string | null = null;
        const lines = new JsonLines((v) => {
          const line = v as { error?: string; errorDetail?: { message?: string } };
          if (line.error || line.errorDetail?.message) failure ??= line.errorDetail?.message ?? line.error ?? 'pull failed';
        });
        stream.on('data', (chunk: Buffer) => lines.push(chunk));
        stream.on('error', reject); // the whole pull is bounded by pullTimeoutMs (the request's abort signal)
        stream.on('end', () => {
          lines.end();
          if (failure) reject(new Error(failure));
          else resolve();
        });
      });
    },
  };
}

/** `POST /containers/{id}/wait`: settles when the engine answers, the connection drops, or `signal` aborts. */
function waitRequest(t: EngineTarget, id: string, signal: AbortSignal): Promise<void> {
  const where = t.kind === 'unix' ? { socketPath: t.socketPath } : { host: t.host, port: t.port };
  const transport = t.kind === 'tcp' && t.protocol === 'https' ? https : http;
  return new Promise((resolve, reject) => {
    const req = transport.request({ ...where, method: 'POST', path: `/containers/${encodeURIComponent(id)}/wait`, signal, headers: { Accept: 'application/json' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('close', () => {
        if (!res.complete) reject(Object.assign(new Error('the engine closed the connection before the container ended'), { code: 'ECONNRESET' }));
      });
      res.on('end', () => {
        if (res.statusCode === 200) {
          resolve();
          return;
        }
        const text = Buffer.concat(chunks).toString('utf8').trim();
        let message = text;
        try {
          message = (JSON.parse(text) as { message?: string }).message ?? text;
        } catch {
          // not JSON
        }
        reject(Object.assign(new Error(`(HTTP code ${res.statusCode}) ${message}`), { statusCode: res.statusCode, json: { message } }));
      });
    });
    req.on('error', reject);
    req.end();
  });
}

export { containerGone };

/** The HTTP status of an engine answer, or undefined for a socket error. */
export function statusOf(err: unknown): number | undefined {
  const s = (err as { statusCode?: unknown } | null)?.statusCode;
  return typeof s === 'number' ? s : undefined;
}

/** The engine's own words: its JSON `message` when it sent one, without dockerode's "(HTTP code N) …" prefix. */
export function engineMessage(err: unknown): string {
  const e = err as { json?: { message?: unknown } | null; message?: unknown } | null;
  if (typeof e?.json?.message === 'string') return e.json.message.trim();
  const m = typeof e?.message === 'string' ? e.message : String(err);
  return m.replace(/^\(HTTP code \d+\)\s*(?:[a-z ]+ - )?/, '').trim();
}

/** A start that failed because the host port is taken (Docker: "port is already allocated"; Podman: "address already in use"). */
export function isPortTaken(err: unknown): boolean {
  return /port is already allocated|address already in use/i.test(engineMessage(err));
}

/** A create that failed because the image is not on the engine. */
export function isNoSuchImage(err: unknown): boolean {
  return statusOf(err) === 404 && /image/i.test(engineMessage(err));
}
