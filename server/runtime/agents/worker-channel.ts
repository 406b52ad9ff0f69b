/**
 * The hub's side of workers on agents (shared/agent-workers.ts): the connected agent of each node that runs workers,
 * where its workers are reached (its `--advertise-host`, else the address its connection comes from), the hub's
 * calls to it (acked, with a time limit), and what it reports — `worker_state` (numbered per boot: a resend of one
 * already taken is acknowledged again and dropped) and `worker_inventory` — handed to the worker service's sink one
 * at a time per node, in the order they came, and acknowledged once the sink has stored them. Reports that arrive
 * before the worker service has started wait for it.
 */
import type { Socket } from 'socket.io';
import {
  AgentWorkerStateSchema, WORKER_CALLS, WorkerInventorySchema,
  type WorkerCall, type WorkerCalls, type WorkerCommandAck, type WorkerStateAck,
} from '../../../shared/agent-workers.ts';
import type { AgentHello, AgentToHubEvents, HubToAgentEvents } from '../../../shared/agents.ts';
import type { WorkerBackend } from '../../../shared/workers.ts';
import type { Logger } from '../../log.ts';
import type { AgentWorkerChannel, AgentWorkerSink } from '../workers/remote.ts';

type AgentSocket = Socket<AgentToHubEvents, HubToAgentEvents>;

interface Connected {
  socket: AgentSocket;
  hello: AgentHello;
  host: string;
  /** the reports of this node, taken one after the other */
  chain: Promise<unknown>;
}

export interface WorkerChannelOptions {
  log: Logger;
  /** how long a call waits for the agent's ack, ms @default 15000 */
  callTimeoutMs?: number;
  /** how long a worker_start waits for it (a container may need its image pulled first), ms @default 300000 */
  startTimeoutMs?: number;
}

/** The address a connection comes from, as a host of a URL (IPv4-mapped IPv6 as IPv4, IPv6 in brackets). */
export function hostOfAddress(address: string): string {
  const v4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(address);
  if (v4) return v4[1]!;
  return address.includes(':') ? `[${address}]` : address;
}

export class AgentWorkerChannelImpl implements AgentWorkerChannel {
  private readonly nodes = new Map<string, Connected>();
  /** per node: the boot and the highest worker_state seq of it taken */
  private readonly seqs = new Map<string, { bootId: string; last: number }>();
  private sink: AgentWorkerSink | null = null;
  private readonly waiting: ((s: AgentWorkerSink) => void)[] = [];

  constructor(private readonly o: WorkerChannelOptions) {}

  attach(sink: AgentWorkerSink): void {
    this.sink = sink;
    for (const w of this.waiting.splice(0)) w(sink);
  }

  /** The highest worker_state seq of this boot taken (welcome's lastWorkerSeq); null: none. */
  lastSeq(node: string, bootId: string): number | null {
    const s = this.seqs.get(node);
    return s && s.bootId === bootId ? s.last : null;
  }

  /** An agent connected (after its welcome): its calls go to this socket, its reports come from it. */
  connected(socket: AgentSocket, hello: AgentHello): void {
    const { node } = hello;
    const c: Connected = { socket, hello, host: hello.workers?.host ?? hostOfAddress(socket.handshake.address), chain: Promise.resolve() };
    this.nodes.set(node, c);
    socket.on('worker_state', (msg, ack) => {
      void this.inTurn(c, () => this.state(hello, msg)).then((res) => typeof ack === 'function' && ack(res));
    });
    socket.on('worker_inventory', (msg, ack) => {
      void this.inTurn(c, () => this.inventory(hello, msg)).then((res) => typeof ack === 'function' && ack(res));
    });
    socket.on('disconnect', () => {
      if (this.nodes.get(node)?.socket === socket) this.nodes.delete(node);
    });
  }

  workerNodes(): string[] {
    return [...this.nodes.values()].filter((c) => c.hello.workers).map((c) => c.hello.node);
  }

  backendsOf(node: string): WorkerBackend[] {
    return this.nodes.get(node)?.hello.workers?.backends ?? [];
  }

  hostOf(node: string): string | null {
    return this.nodes.get(node)?.host ?? null;
  }

  async call<K extends WorkerCall>(node: string, event: K, msg: WorkerCalls[K][0]): Promise<WorkerCalls[K][1]> {
    const c = this.nodes.get(node);
    if (!c || !c.socket.connected) throw new Error(`no agent of node ${node} is connected`);
    const timeoutMs = event === 'worker_start' ? this.o.startTimeoutMs ?? 300_000 : this.o.callTimeoutMs ?? 15_000;
    // the typed emit of one event of the union: socket.io's types cannot follow a generic event name
    const s = c.socket.timeout(timeoutMs);
    let res: unknown;
    try {
      res = await (s.emitWithAck as unknown as (e: K, m: WorkerCalls[K][0]) => Promise<unknown>).call(s, event, msg);
    } catch {
      throw new Error(`the agent of node ${node} did not answer ${event} within ${timeoutMs} ms`);
    }
    const parsed = WORKER_CALLS[event].ack.safeParse(res);
    if (!parsed.success) throw new Error(`the agent of node ${node} answered ${event} with an unreadable ack`);
    return parsed.data;
  }

  private inTurn<T>(c: Connected, fn: () => Promise<T>): Promise<T> {
    const next = c.chain.then(fn, fn);
    c.chain = next.catch(() => {});
    return next;
  }

  private async ready(): Promise<AgentWorkerSink> {
    return this.sink ?? new Promise((r) => this.waiting.push(r));
  }

  private async state(hello: AgentHello, raw: unknown): Promise<WorkerStateAck> {
    const parsed = AgentWorkerStateSchema.safeParse(raw);
    if (!parsed.success) return { ok: false, error: `invalid worker_state: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(message)'}: ${i.message}`).join('; ')}` };
    const msg = parsed.data;
    const { node, bootId } = hello;
    const seen = this.seqs.get(node);
    if (seen && seen.bootId === bootId && msg.seq <= seen.last) return { ok: true, seq: msg.seq };
    try {
      await (await this.ready()).state(node, msg);
    } catch (err) {
      this.o.log.warn({ err, node, worker: msg.workerId }, 'a worker state could not be taken');
      return { ok: false, error: 'the hub could not take it; it is sent again' };
    }
    const now = this.seqs.get(node);
    this.seqs.set(node, { bootId, last: now && now.bootId === bootId ? Math.max(now.last, msg.seq) : msg.seq });
    return { ok: true, seq: msg.seq };
  }

  private async inventory(hello: AgentHello, raw: unknown): Promise<WorkerCommandAck> {
    const parsed = WorkerInventorySchema.safeParse(raw);
    if (!parsed.success) return { ok: false, error: `invalid worker_inventory: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(message)'}: ${i.message}`).join('; ')}` };
    try {
      await (await this.ready()).inventory(hello.node, parsed.data);
      return { ok: true };
    } catch (err) {
      this.o.log.warn({ err, node: hello.node }, 'a worker inventory could not be taken');
      return { ok: false, error: 'the hub could not take it' };
    }
  }
}
