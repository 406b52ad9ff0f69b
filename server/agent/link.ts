/**
 * The agent's link to its hub (shared/agents.ts): a socket.io client of the hub's AGENT_NAMESPACE that says hello
 * (the `auth` of every handshake), waits for `welcome`, and sends its node's snapshots, each numbered by `seq`
 * (1, 2, … per boot) and acknowledged by the hub.
 *
 * Only the latest state of a node matters: one snapshot is in flight at a time and a newer one replaces the one
 * waiting. What the hub has is its acks and, at each connection, welcome's `lastSeq`: the newest snapshot goes
 * (again) while its seq is above that — after an ack timeout, after a reconnect — and never once the hub has it.
 * Snapshots are emitted only on a welcomed, connected socket (socket.io-client would otherwise buffer them and
 * replay stale ones after a reconnect).
 *
 * socket.io-client reconnects by itself, with backoff and jitter, after a lost connection; a handshake the hub
 * refuses is final (the socket is no longer `active`) and ends the link. A disconnect the hub initiates is not
 * retried by socket.io-client: the link reconnects itself after a backoff of its own. Each change of state is
 * reported once (not every retry). The workers' messages (shared/agent-workers.ts) go through `handle` (the hub's
 * calls) and `call` (the agent's reports, on a welcomed connection only); server/agent/workers.ts decides them.
 */
import { randomUUID } from 'node:crypto';
import { io, type Socket } from 'socket.io-client';
import type { AgentToHubWorkerEvents, AgentWorkerOffer, WorkerCall, WorkerCalls } from '../../shared/agent-workers.ts';
import {
  AGENT_NAMESPACE, AGENT_PROTOCOL, AGENT_QUERY, AgentWelcomeSchema, SnapshotAckSchema, handshakeErrorKind,
  type AgentHello, type AgentSnapshot, type AgentToHubEvents, type AgentWelcome, type HandshakeErrorKind, type HubToAgentEvents,
} from '../../shared/agents.ts';
import type { ResourceStatus } from '../../shared/resources.ts';
import { systemClock, type Clock, type Timer } from '../clock.ts';
import type { Logger } from '../log.ts';
import { VERSION } from '../version.ts';
import { Backoff, reasonOf } from './reconnect.ts';

export type LinkState =
  /** welcomed by the hub; `again`: not the first time since the start */
  | { state: 'connected'; welcome: AgentWelcome; again: boolean }
  /** no connection (lost, or not made yet); socket.io-client or the link is retrying */
  | { state: 'down'; reason: string }
  /** the hub refused the handshake (`kind` null: a refusal that is not one of AGENT_HANDSHAKE_ERRORS); final */
  | { state: 'refused'; kind: HandshakeErrorKind | null; message: string }
  | { state: 'stopped' };
export type LinkEnd = Extract<LinkState, { state: 'refused' | 'stopped' }>;

export interface AgentLinkOptions {
  /** the hub's base URL (origin) */
  hub: string;
  token: string;
  node: string;
  /** how long a snapshot waits for its ack before it is sent again */
  ackTimeoutMs: number;
  log: Logger;
  clock?: Clock;
  /** @default a random UUID (once per process: see startAgent) */
  bootId?: string;
  /** @default this Arbiter's version */
  version?: string;
  /** first and longest wait between reconnection attempts @default 500, 10000 */
  reconnectionDelayMs?: number;
  reconnectionDelayMaxMs?: number;
  /** wait before a snapshot the hub refused (`ok: false`) is sent again @default 1000 */
  refusedRetryMs?: number;
  /** what it offers for workers (the hello's `workers`); absent: it runs none */
  workers?: AgentWorkerOffer;
}

type AgentSocket = Socket<HubToAgentEvents, AgentToHubEvents>;

export class AgentLink {
  readonly bootId: string;
  /** resolves when the link ends: refused by the hub, or stopped */
  readonly ended: Promise<LinkEnd>;
  private readonly socket: AgentSocket;
  private readonly clock: Clock;
  private readonly listeners = new Set<(s: LinkState) => void>();
  private resolveEnd!: (e: LinkEnd) => void;
  private finished = false;

  private seq = 0;
  /** the newest snapshot made: it goes while its seq is above `hubHas` */
  private newest: AgentSnapshot | null = null;
  /** the highest seq the hub has: its acks, and welcome's lastSeq on each connection */
  private hubHas = 0;
  private inFlight = false;
  /** this connection has its welcome: snapshots may go */
  private welcomed = false;
  /** one per connection: an ack of an earlier connection is ignored */
  private epoch = 0;
  private reported: LinkState['state'] | null = null;
  private connections = 0;
  private connectedAt = 0;
  private slowAcks = false;
  private lastRefusal: string | null = null;
  private retry: Timer | null = null;
  private rejoin: Timer | null = null;
  private readonly kicks: Backoff;

  constructor(private readonly o: AgentLinkOptions) {
    this.clock = o.clock ?? systemClock;
    this.bootId = o.bootId ?? randomUUID();
    this.ended = new Promise((r) => (this.resolveEnd = r));
    const hello: AgentHello = {
      token: o.token, node: o.node, bootId: this.bootId, version: o.version ?? VERSION, protocol: AGENT_PROTOCOL, ...(o.workers ? { workers: o.workers } : {}),
    };
    const delayMs = o.reconnectionDelayMs ?? 500;
    const delayMaxMs = o.reconnectionDelayMaxMs ?? 10_000;
    this.kicks = new Backoff(delayMs, delayMaxMs, 0.5);
    this.socket = io(`${o.hub}${AGENT_NAMESPACE}`, {
      // AGENT_QUERY marks the upgrade request as an agent's: a follower hub replica routes it to the leader
      auth: hello, query: AGENT_QUERY, transports: ['websocket'], forceNew: true, autoConnect: false,
      reconnectionDelay: delayMs, reconnectionDelayMax: delayMaxMs, randomizationFactor: 0.5,
    });
    this.socket.on('connect', () => this.onConnect());
    this.socket.on('welcome', (msg) => this.onWelcome(msg));
    this.socket.on('disconnect', (reason) => this.onDisconnect(reason));
    this.socket.on('connect_error', (err) => this.onConnectError(err));
  }

  /** Called with each change of state (once per change, not per retry). */
  onState(listener: (s: LinkState) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Whether socket.io-client would still (re)connect (false once refused or stopped). */
  get active(): boolean {
    return this.socket.active || this.rejoin !== null;
  }

  start(): void {
    this.socket.connect();
  }

  /** Welcomed on a connection that is up: reports may go. */
  get ready(): boolean {
    return this.welcomed && this.socket.connected && !this.finished;
  }

  /** One of the hub's calls: `fn` reads the message and its answer is the ack. */
  handle<K extends WorkerCall>(event: K, fn: (msg: unknown) => Promise<WorkerCalls[K][1]>): void {
    const on = this.socket.on.bind(this.socket) as unknown as (e: string, l: (msg: unknown, ack: unknown) => void) => void;
    on(event, (msg, ack) => {
      void fn(msg).then((res) => typeof ack === 'function' && ack(res));
    });
  }

  /** A report to the hub on a welcomed connection: its ack (unread); rejects when not connected or after `timeoutMs`. */
  async call<K extends keyof AgentToHubWorkerEvents>(event: K, msg: Parameters<AgentToHubWorkerEvents[K]>[0], timeoutMs: number): Promise<unknown> {
    if (!this.ready) throw new Error('not connected to the hub');
    const s = this.socket.timeout(timeoutMs);
    return (s.emitWithAck as unknown as (e: K, m: typeof msg) => Promise<unknown>).call(s, event, msg);
  }

  /** The node's newest state: numbered, and sent as soon as nothing is in flight (replacing one that waits). */
  send(status: ResourceStatus): void {
    if (this.finished) return;
    this.newest = { seq: ++this.seq, status };
    this.pump();
  }

  /**
   * Says `bye` (when connected) and closes the connection; resolves once it is closed (at most 1 s). The connection
   * is closed under socket.io rather than with its disconnect packet: socket.io's server runs a received event a tick
   * later and drops it when the socket has gone meanwhile, so a `bye` followed by that packet would be lost.
   */
  async stop(): Promise<void> {
    if (this.finished) return;
    this.finish({ state: 'stopped' });
    const manager = this.socket.io;
    const engine = manager.engine;
    if (this.socket.connected && engine) {
      this.socket.emit('bye', {});
      manager.reconnection(false);
      const closed = new Promise<void>((resolve) => {
        const cap = setTimeout(resolve, 1000);
        engine.once('close', () => {
          clearTimeout(cap);
          resolve();
        });
      });
      // the engine sends what it holds (the bye) first, then closes
      engine.close();
      await closed;
    }
    this.socket.disconnect();
  }

  private pump(): void {
    const s = this.newest;
    if (!s || s.seq <= this.hubHas || this.inFlight || this.retry || !this.welcomed || !this.socket.connected) return;
    const epoch = this.epoch;
    this.inFlight = true;
    this.socket.timeout(this.o.ackTimeoutMs).emit('snapshot', s, (err, res) => {
      if (epoch !== this.epoch) return;
      this.inFlight = false;
      if (err) {
        if (!this.slowAcks) this.o.log.warn({ seq: s.seq, ackTimeoutMs: this.o.ackTimeoutMs }, 'the hub did not acknowledge a snapshot in time; sending the newest again');
        this.slowAcks = true;
        this.pump();
        return;
      }
      this.slowAcks = false;
      const parsed = SnapshotAckSchema.safeParse(res);
      const ack = parsed.success ? parsed.data : { ok: false as const, error: 'an unreadable ack' };
      if (ack.ok) {
        this.hubHas = Math.max(this.hubHas, ack.seq);
        this.lastRefusal = null;
        this.pump();
        return;
      }
      const why = ack.error;
      if (why !== this.lastRefusal) this.o.log.warn({ seq: s.seq, error: why }, 'the hub refused a snapshot; sending the newest again shortly');
      this.lastRefusal = why;
      this.retry = this.clock.setTimeout(() => {
        this.retry = null;
        this.pump();
      }, this.o.refusedRetryMs ?? 1000);
    });
  }

  private onConnect(): void {
    this.epoch++;
    this.welcomed = false;
    this.inFlight = false;
  }

  private onWelcome(msg: unknown): void {
    const parsed = AgentWelcomeSchema.safeParse(msg);
    if (!parsed.success) {
      this.o.log.error({ problems: parsed.error.issues.map((i) => i.message) }, 'unreadable welcome from the hub');
      this.finish({ state: 'refused', kind: null, message: 'the hub answered with an unreadable welcome' });
      this.socket.disconnect();
      return;
    }
    const welcome = parsed.data;
    if (welcome.node !== this.o.node) this.o.log.warn({ node: this.o.node, hubNode: welcome.node }, 'the hub registered this agent under another node name');
    const skewMs = welcome.hubNow - this.clock.now();
    if (Math.abs(skewMs) > 5000) this.o.log.warn({ skewMs }, "this node's clock and the hub's are more than 5 s apart");
    // what the hub has of this boot: none after a restart of the hub, so the newest goes again
    this.hubHas = welcome.lastSeq ?? 0;
    this.welcomed = true;
    this.connectedAt = this.clock.now();
    this.report({ state: 'connected', welcome, again: this.connections++ > 0 });
    this.pump();
  }

  private onDisconnect(reason: string): void {
    this.epoch++;
    this.welcomed = false;
    this.inFlight = false;
    if (this.finished) return;
    if (reason === 'io server disconnect') {
      // socket.io-client leaves a connection the server closed: reconnect after a backoff (a connection that lasted resets it)
      if (this.clock.now() - this.connectedAt > this.kicks.maxMs) this.kicks.reset();
      this.rejoin = this.clock.setTimeout(() => {
        this.rejoin = null;
        if (!this.finished) this.socket.connect();
      }, this.kicks.next());
      this.report({ state: 'down', reason: 'the hub closed the connection' });
      return;
    }
    this.report({ state: 'down', reason });
  }

  private onConnectError(err: Error): void {
    if (this.finished) return;
    if (this.socket.active) {
      this.report({ state: 'down', reason: reasonOf(err) });
      return;
    }
    // refused by the hub's middleware: socket.io-client does not retry
    this.finish({ state: 'refused', kind: handshakeErrorKind(err.message) ?? null, message: err.message });
  }

  private finish(end: LinkEnd): void {
    if (this.finished) return;
    this.finished = true;
    this.retry?.cancel();
    this.rejoin?.cancel();
    this.rejoin = null;
    this.report(end);
    this.resolveEnd(end);
  }

  private report(s: LinkState): void {
    if (s.state === this.reported && s.state !== 'connected') return;
    this.reported = s.state;
    for (const l of this.listeners) l(s);
  }
}
