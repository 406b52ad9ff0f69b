/**
 * Push workers (`--push-workers N`): child processes that write the push streams, so that the writes of one event are
 * spread over the machine's cores instead of made one client after another on the server's one thread (at 10,000
 * clients the fan-out of an event is ~10,000 socket writes: bench/RESULTS.md, issue 16).
 *
 * Each worker is a push server of its own (push-worker.ts) — an EventHub, the SSE, socket.io and plain
 * WebSocket transports — without a listening socket: this server reads a push request as usual (SSE's and the plain
 * WebSocket's routes check the token and the query: a bad one is answered here; socket.io's token comes in its
 * CONNECT packet and is checked at the worker), then hands the connection to the worker with the fewest clients
 * (the socket's descriptor over the IPC channel, with the request's head to read again there) and closes its own copy.
 * Every event this hub publishes goes to every worker once, in id order on the same channel as the connections, so a
 * client's backfill and resume there are what they would be here: a worker's hub relays this one's events with their
 * ids (as the hub replicas' do), its replay window filled from this hub's at start, older events from the database's
 * archive, which it opens too. What is handed: SSE (`/api/events`, the specification's `push/sse`), the plain
 * WebSocket, and socket.io connections that open on WebSocket (no engine.io session yet); socket.io's long-polling
 * (and its upgrades) and the agents stay here. A worker that is not ready (starting, or gone) is skipped: the
 * connection is served here.
 */
import { fork, type ChildProcess } from 'node:child_process';
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Config } from './config.ts';
import type { Logger } from './log.ts';
import { packagePath } from './paths.ts';
import type { EventHub } from './push/hub.ts';

/** The transports a worker takes: SSE, the plain WebSocket, socket.io opened on WebSocket. */
export const HANDED_KINDS = ['sse', 'ws', 'io'] as const;
export type HandedKind = (typeof HANDED_KINDS)[number];

/** No clients of any handed kind. */
export const noHandedClients = (): Record<HandedKind, number> => ({ sse: 0, ws: 0, io: 0 });
const sum = (c: Record<HandedKind, number>) => HANDED_KINDS.reduce((n, k) => n + c[k], 0);

/** What goes from the server to a worker. */
export type ToWorker =
  | { t: 'init'; config: Config; token: string; backlog: string[] }
  | { t: 'e'; j: string }
  | { t: 'conn'; seq: number; kind: HandedKind; head: string }
  | { t: 'close' };
/** What a worker tells the server. */
export type FromWorker = { t: 'ready' } | { t: 'took'; seq: number } | { t: 'gone'; kind: HandedKind } | { t: 'wrong'; address: string };

/** How long a worker has to start, and to close its clients at shutdown, before it is killed. */
const START_TIMEOUT_MS = 60_000;
const CLOSE_TIMEOUT_MS = 5000;

/** The worker's entry: the compiled module beside this one, or the TypeScript source through tsx (tests, development). */
function entry(): { file: string; execArgv: string[] } {
  const fromSources = import.meta.url.endsWith('.ts');
  const file = fileURLToPath(new URL(`./push-worker.${fromSources ? 'ts' : 'js'}`, import.meta.url));
  const execArgv = ['--enable-source-maps', ...(fromSources ? ['--import', pathToFileURL(packagePath('node_modules/tsx/dist/loader.mjs')).href] : [])];
  return { file, execArgv };
}

/** The request's head as it came (method, target, headers), to be read again by the worker, then what followed it. */
export function requestHead(req: IncomingMessage, rest?: Buffer): Buffer {
  const target = (req as IncomingMessage & { originalUrl?: string }).originalUrl ?? req.url ?? '/';
  let head = `${req.method ?? 'GET'} ${target} HTTP/${req.httpVersion}\r\n`;
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) head += `${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}\r\n`;
  const bytes = Buffer.from(`${head}\r\n`, 'latin1');
  return rest && rest.length ? Buffer.concat([bytes, rest]) : bytes;
}

interface Worker {
  child: ChildProcess;
  ready: boolean;
  clients: Record<HandedKind, number>;
  /** connections sent and not yet taken: this process's copy is closed once the worker has its own */
  sending: Map<number, Socket>;
}

export interface PushWorkersOptions {
  count: number;
  config: Config;
  token: string;
  log: Logger;
  /** a worker refused a wrong token from `address` (the server's lockout counts it) */
  wrongToken?: (address: string) => void;
}

export class PushWorkers {
  private readonly workers: Worker[] = [];
  private seq = 0;
  private readonly unsubscribe: () => void;
  private closing = false;

  constructor(private readonly hub: EventHub, private readonly opts: PushWorkersOptions) {
    for (let i = 0; i < opts.count; i++) this.workers.push(this.spawn());
    // every event to every worker, after the backlog each was started with (the same tick: none missed or doubled)
    this.unsubscribe = hub.subscribe((ev) => {
      const msg: ToWorker = { t: 'e', j: ev.json };
      for (const w of this.workers) if (w.child.connected) w.child.send(msg);
    });
  }

  /** Resolves once every worker is ready (or has failed to start: its connections are then served here). */
  async started(): Promise<void> {
    await Promise.all(this.workers.map((w) => new Promise<void>((resolve) => {
      if (w.ready) return resolve();
      const timer = setTimeout(resolve, START_TIMEOUT_MS);
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      w.child.on('message', (m: FromWorker) => m.t === 'ready' && done());
      w.child.once('exit', done);
    })));
  }

  /** Clients held by the workers, per transport. */
  clientCounts(): Record<HandedKind, number> {
    const out = noHandedClients();
    for (const w of this.workers) for (const k of HANDED_KINDS) out[k] += w.clients[k];
    return out;
  }

  get clientCount(): number {
    return sum(this.clientCounts());
  }

  /**
   * Hand the connection of `req` (checked, admitted) to the ready worker with the fewest clients, `rest` being what
   * followed the request's head (an upgrade's first bytes); false when no worker can take it (serve it here).
   */
  adopt(req: IncomingMessage, kind: HandedKind, rest?: Buffer): boolean {
    if (this.closing) return false;
    let best: Worker | undefined;
    for (const w of this.workers) {
      if (!w.ready || !w.child.connected) continue;
      if (!best || sum(w.clients) < sum(best.clients)) best = w;
    }
    if (!best) return false;
    const socket = req.socket as Socket;
    const handle = (socket as Socket & { _handle?: object | null })._handle;
    if (!handle) return false;
    // nothing more is read here: what the client sends next (a socket.io CONNECT, a resume message) stays in the
    // kernel for the worker. A paused stream alone still reads the descriptor into its buffer, which this process
    // then closes with its copy: the handle itself stops reading.
    socket.pause();
    const reader = handle as { reading?: boolean; readStop?: () => number };
    reader.reading = false;
    reader.readStop?.();
    const w = best;
    w.clients[kind]++;
    const seq = ++this.seq;
    w.sending.set(seq, socket);
    // the descriptor itself (not the net.Socket, which would tie this server's close to the worker's connections):
    // this process's copy is closed when the worker says it has its own (took), the connection stays open
    const msg: ToWorker = { t: 'conn', seq, kind, head: requestHead(req, rest).toString('base64') };
    w.child.send(msg, handle as Parameters<ChildProcess['send']>[1], { keepOpen: true }, (err) => {
      if (!err) return;
      w.sending.delete(seq);
      w.clients[kind]--;
      this.opts.log.warn({ err: err.message }, 'a push connection could not be handed to its worker; closed');
      socket.destroy();
    });
    return true;
  }

  /** Close every worker's clients (they reconnect and resume) and end the workers. */
  async close(): Promise<void> {
    this.closing = true;
    this.unsubscribe();
    await Promise.all(this.workers.map(async (w) => {
      if (w.child.exitCode !== null || w.child.signalCode !== null) return;
      const exited = new Promise<void>((r) => w.child.once('exit', () => r()));
      if (w.child.connected) w.child.send({ t: 'close' } satisfies ToWorker);
      const timer = setTimeout(() => w.child.kill('SIGKILL'), CLOSE_TIMEOUT_MS);
      await exited;
      clearTimeout(timer);
    }));
  }

  private spawn(): Worker {
    const { file, execArgv } = entry();
    const child = fork(file, [], { execArgv, serialization: 'json', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const w: Worker = { child, ready: false, clients: noHandedClients(), sending: new Map() };
    child.send({ t: 'init', config: this.opts.config, token: this.opts.token, backlog: this.hub.backlog().map((ev) => ev.json) } satisfies ToWorker);
    child.on('message', (m: FromWorker) => {
      if (m.t === 'ready') w.ready = true;
      else if (m.t === 'took') {
        w.sending.get(m.seq)?.destroy();
        w.sending.delete(m.seq);
      } else if (m.t === 'gone') w.clients[m.kind] = Math.max(0, w.clients[m.kind] - 1);
      else if (m.t === 'wrong') this.opts.wrongToken?.(m.address);
    });
    child.on('error', (err) => this.opts.log.error({ err: err.message }, 'push worker error'));
    child.once('exit', (code, signal) => {
      w.ready = false;
      w.clients = noHandedClients();
      for (const socket of w.sending.values()) socket.destroy();
      w.sending.clear();
      if (this.closing) return;
      // its clients were cut: they reconnect (and resume) here or at another worker; a new worker takes its place
      this.opts.log.error({ pid: child.pid, code, signal }, 'a push worker ended; starting another');
      const i = this.workers.indexOf(w);
      if (i >= 0) setTimeout(() => {
        if (!this.closing) this.workers[i] = this.spawn();
      }, 1000).unref();
    });
    return w;
  }
}
