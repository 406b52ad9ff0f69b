/**
 * A stand-in for the hub's side of the agent protocol (shared/agents.ts): a socket.io Server on 127.0.0.1 (port 0,
 * or a given one to come back on) with the agents' namespace only. It reads each hello with readAgentHello, checks
 * the token, answers `welcome` with a lastSeq the test controls (by default the highest seq it acked for that boot,
 * as a hub that remembers), and acks each snapshot at once or holds the acks until told. Every handshake, snapshot,
 * bye and disconnect is recorded in `events`; `until` waits for a condition on them, woken by each event.
 */
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server, type Namespace, type Socket } from 'socket.io';
import {
  AGENT_HANDSHAKE_ERRORS, AGENT_NAMESPACE, AGENT_PROTOCOL, AgentSnapshotSchema, readAgentHello,
  type AgentHello, type AgentToHubEvents, type HubToAgentEvents, type SnapshotAck,
} from '../../shared/agents.ts';
import type { ResourceStatus } from '../../shared/resources.ts';

export type HubEvent =
  | { type: 'handshake'; error: string | null }
  | { type: 'connect'; id: string; hello: AgentHello; lastSeq: number | null }
  | { type: 'snapshot'; id: string; seq: number; status: ResourceStatus }
  | { type: 'bye'; id: string }
  | { type: 'disconnect'; id: string; reason: string };

interface AgentData {
  hello?: AgentHello;
}
type AgentSocket = Socket<AgentToHubEvents, HubToAgentEvents, Record<string, never>, AgentData>;

export interface StandInHubOptions {
  /** the agent token; undefined: agents disabled */
  token?: string;
  /** listen on this port (a hub back after a restart) @default 0 */
  port?: number;
}

export class StandInHub {
  readonly events: HubEvent[] = [];
  /** acknowledge each snapshot at once; false: hold the acks until `releaseAcks` */
  autoAck = true;
  /** set: every snapshot is refused with this error (`{ok: false, error}`) */
  refuse: string | null = null;
  /** what welcome's lastSeq says; default: the highest seq acked for the hello's boot */
  welcomeLastSeq: (hello: AgentHello) => number | null = (h) => this.acked.get(h.bootId) ?? null;
  /** the highest seq acked per boot */
  readonly acked = new Map<string, number>();
  port = 0;
  private held: { socket: AgentSocket; seq: number; ack: (res: SnapshotAck) => void }[] = [];
  private readonly waiters = new Set<() => void>();
  private http!: HttpServer;
  private io!: Server<AgentToHubEvents, HubToAgentEvents, Record<string, never>, AgentData>;
  private ns!: Namespace<AgentToHubEvents, HubToAgentEvents, Record<string, never>, AgentData>;

  private constructor(private readonly opts: StandInHubOptions) {}

  static async start(opts: StandInHubOptions = {}): Promise<StandInHub> {
    const hub = new StandInHub(opts);
    await hub.listen(opts.port ?? 0);
    return hub;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  snapshots(): Extract<HubEvent, { type: 'snapshot' }>[] {
    return this.events.filter((e): e is Extract<HubEvent, { type: 'snapshot' }> => e.type === 'snapshot');
  }

  ofType<T extends HubEvent['type']>(type: T): Extract<HubEvent, { type: T }>[] {
    return this.events.filter((e): e is Extract<HubEvent, { type: T }> => e.type === type);
  }

  /** Acknowledge the held snapshots (of connections still open), oldest first. */
  releaseAcks(): void {
    const held = this.held;
    this.held = [];
    for (const h of held) if (h.socket.connected) this.ack(h.socket, h.seq, h.ack);
  }

  /** Close every agent's connection under socket.io (as a network failure would): the agents reconnect by themselves. */
  dropConnections(): void {
    for (const s of this.ns.sockets.values()) s.conn.close();
  }

  /** Disconnect every agent at the socket.io level (as a hub that closes its side): the client is told, it does not retry. */
  disconnectAgents(): void {
    this.ns.disconnectSockets(true);
  }

  /** Resolves when `pred(events)` holds; rejects after `timeoutMs`, listing what was seen. */
  until(pred: (events: readonly HubEvent[]) => boolean, what: string, timeoutMs = 10_000): Promise<void> {
    if (pred(this.events)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = () => {
        if (!pred(this.events)) return;
        done();
        resolve();
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`${what}: not seen in ${timeoutMs} ms; events: ${JSON.stringify(this.events.map((e) => (e.type === 'snapshot' ? `snapshot ${e.seq}` : e.type)))}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      this.waiters.add(check);
    });
  }

  async close(): Promise<void> {
    await this.io.close();
  }

  private record(e: HubEvent): void {
    this.events.push(e);
    this.wake();
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }

  private ack(socket: AgentSocket, seq: number, ack: (res: SnapshotAck) => void): void {
    const bootId = socket.data.hello!.bootId;
    this.acked.set(bootId, Math.max(this.acked.get(bootId) ?? 0, seq));
    ack({ ok: true, seq });
    this.wake();
  }

  private async listen(port: number): Promise<void> {
    this.http = createServer();
    this.io = new Server(this.http, { serveClient: false });
    this.ns = this.io.of(AGENT_NAMESPACE);
    this.ns.use((socket, next) => {
      const read = readAgentHello(socket.handshake.auth);
      const error = this.opts.token === undefined ? AGENT_HANDSHAKE_ERRORS.disabled
        : !read.ok ? read.error
          : read.hello.token !== this.opts.token ? AGENT_HANDSHAKE_ERRORS.unauthorized : null;
      this.record({ type: 'handshake', error });
      if (error !== null || !read.ok) return next(new Error(error ?? 'unreachable'));
      socket.data.hello = read.hello;
      next();
    });
    this.ns.on('connection', (socket) => {
      const hello = socket.data.hello!;
      const lastSeq = this.welcomeLastSeq(hello);
      this.record({ type: 'connect', id: socket.id, hello, lastSeq });
      socket.emit('welcome', { node: hello.node, protocol: AGENT_PROTOCOL, hubNow: Date.now(), lastSeq, lastWorkerSeq: null });
      socket.on('snapshot', (msg, ack) => {
        const { seq, status } = AgentSnapshotSchema.parse(msg);
        this.record({ type: 'snapshot', id: socket.id, seq, status });
        if (this.refuse !== null) ack({ ok: false, error: this.refuse });
        else if (this.autoAck) this.ack(socket, seq, ack);
        else this.held.push({ socket, seq, ack });
      });
      socket.on('bye', () => this.record({ type: 'bye', id: socket.id }));
      socket.on('disconnect', (reason) => this.record({ type: 'disconnect', id: socket.id, reason }));
    });
    await new Promise<void>((resolve, reject) => {
      this.http.once('error', reject);
      this.http.listen(port, '127.0.0.1', () => {
        this.port = (this.http.address() as AddressInfo).port;
        resolve();
      });
    });
  }
}
