/**
 * The workers of an agent's node: the hub's calls (start, stop, pause, resume, logs; shared/agent-workers.ts) done
 * on this node's backends — the same local backend `arbiter serve` uses (and the docker one where configured) —,
 * each worker's end reported to the hub as `worker_state` until the hub acknowledges it, and at each connection an
 * inventory of every worker it knows of.
 *
 * What it knows survives a restart of the agent (also kill -9): the workers it runs, and those whose end the hub has
 * not acknowledged yet, are kept in `stateFile`; at the next start they are adopted from their backends (those that
 * ended meanwhile are reported with the status they left). Workers keep running when the agent stops.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { z } from 'zod';
import {
  InventoryItemSchema, WorkerLogsAskSchema, WorkerSignalSchema, WorkerStartSchema, WorkerStateAckSchema, WorkerStopSchema,
  type AgentWorkerState, type InventoryItem, type WorkerCommandAck,
} from '../../shared/agent-workers.ts';
import type { AgentWelcome } from '../../shared/agents.ts';
import type { WorkerBackend } from '../../shared/workers.ts';
import type { Clock, Timer } from '../clock.ts';
import type { Logger } from '../log.ts';
import type { Backend, Exit } from '../runtime/workers/backend.ts';
import { LOG_TAIL_LINES } from '../workloads/workers/book.ts';
import type { AgentLink } from './link.ts';

export interface AgentWorkersOptions {
  link: AgentLink;
  backends: Partial<Record<WorkerBackend, Backend>>;
  /** where what it knows of its workers is kept between runs */
  stateFile: string;
  /** a free port on this node, for a worker whose spec names none */
  freePort: () => Promise<number>;
  clock: Clock;
  log: Logger;
  /** how long a report waits for the hub's ack before it is sent again, ms */
  ackTimeoutMs: number;
}

/** A report before its number. */
type Report = AgentWorkerState extends infer S ? (S extends AgentWorkerState ? Omit<S, 'seq'> : never) : never;

const errorOf = (err: unknown) => (err instanceof Error ? err.message : String(err));
const problems = (e: z.ZodError) => e.issues.map((i) => `${i.path.join('.') || '(message)'}: ${i.message}`).join('; ');

export class AgentWorkers {
  /** every worker it runs, and those whose end the hub has not acknowledged */
  private readonly kept = new Map<string, InventoryItem>();
  private readonly outbox: AgentWorkerState[] = [];
  private seq = 0;
  private readonly inFlight = new Set<number>();
  private retry: Timer | null = null;
  /** one per connection: an answer of an earlier one is ignored */
  private epoch = 0;
  private readonly offs: (() => void)[] = [];

  constructor(private readonly o: AgentWorkersOptions) {}

  /** Take back what the last run kept, then answer the hub's calls. Call before the link starts. */
  async start(): Promise<void> {
    const { backends, link } = this.o;
    for (const [kind, b] of Object.entries(backends) as [WorkerBackend, Backend][]) {
      this.offs.push(b.onExit((id, exit) => void this.exited(kind, id, exit)));
    }
    const saved = this.load();
    for (const item of saved) this.kept.set(item.workerId, item);
    for (const item of saved) if (item.exit !== null) this.report({ workerId: item.workerId, backend: item.backend, state: 'exited', exit: item.exit, lastLines: item.lastLines });
    for (const [kind, b] of Object.entries(backends) as [WorkerBackend, Backend][]) {
      const known = saved.filter((i) => i.exit === null && i.backend === kind).map((i) => ({ id: i.workerId, host: '127.0.0.1', ...i.running }));
      if (known.length) await b.adopt(known);
    }
    for (const item of saved) if (item.exit === null && !backends[item.backend]) void this.exited(item.backend, item.workerId, { code: null, signal: null });
    link.handle('worker_start', (m) => this.startWorker(m));
    link.handle('worker_stop', (m) => this.command(WorkerStopSchema, m, (b, msg) => void b.stop(msg.workerId, msg.graceMs)));
    link.handle('worker_pause', (m) => this.command(WorkerSignalSchema, m, (b, msg) => b.pause(msg.workerId)));
    link.handle('worker_resume', (m) => this.command(WorkerSignalSchema, m, (b, msg) => b.resume(msg.workerId)));
    link.handle('worker_logs', async (m) => {
      const p = WorkerLogsAskSchema.safeParse(m);
      if (!p.success) return { ok: false, error: problems(p.error) };
      const k = this.kept.get(p.data.workerId);
      const b = k ? this.o.backends[k.backend] : undefined;
      if (!k || !b) return { ok: true, lines: [] };
      return b.logs(k.workerId, p.data.tail).then((lines) => ({ ok: true as const, lines }), (err: unknown) => ({ ok: false as const, error: errorOf(err) }));
    });
    this.offs.push(link.onState((s) => {
      if (s.state === 'connected') this.connected(s.welcome);
    }));
  }

  /** Stop answering (workers keep running; they are adopted at the next start). */
  async stop(): Promise<void> {
    this.retry?.cancel();
    for (const off of this.offs.splice(0)) off();
    for (const b of Object.values(this.o.backends)) await b?.close();
  }

  /** What it would report now: every worker it runs or whose end is not acknowledged. */
  inventory(): InventoryItem[] {
    return [...this.kept.values()];
  }

  private async startWorker(raw: unknown) {
    const p = WorkerStartSchema.safeParse(raw);
    if (!p.success) return { ok: false as const, error: `invalid worker_start: ${problems(p.error)}` };
    const msg = p.data;
    const had = this.kept.get(msg.workerId);
    // asked again (the hub did not get the first answer): as it runs
    if (had && had.exit === null) return { ok: true as const, running: had.running };
    const backend = this.o.backends[msg.backend];
    if (!backend) return { ok: false as const, error: `this agent runs no ${msg.backend} workers` };
    try {
      const port = msg.port || (await this.o.freePort());
      const r = await backend.start({
        id: msg.workerId, group: msg.group, replica: msg.replica, spec: msg.spec, gpus: msg.gpus, port,
        // the hub reaches it from another machine: the worker runtimes listen on every interface unless told
        env: { ARBITER_HOST: '0.0.0.0', ...msg.env, ARBITER_PORT: String(port) },
      });
      const running = { port: r.port, startedAt: r.startedAt, ref: r.ref };
      this.kept.set(msg.workerId, { workerId: msg.workerId, backend: msg.backend, running, exit: null, lastLines: [] });
      this.save();
      this.report({ workerId: msg.workerId, backend: msg.backend, state: 'started', running });
      return { ok: true as const, running };
    } catch (err) {
      this.o.log.warn({ err, worker: msg.workerId }, 'a worker could not start');
      return { ok: false as const, error: `could not start: ${errorOf(err)}` };
    }
  }

  private async command<T extends { workerId: string }>(schema: z.ZodType<T>, raw: unknown, fn: (b: Backend, msg: T) => unknown): Promise<WorkerCommandAck> {
    const p = schema.safeParse(raw);
    if (!p.success) return { ok: false, error: problems(p.error) };
    const k = this.kept.get(p.data.workerId);
    const b = k ? this.o.backends[k.backend] : undefined;
    // unknown, or ended: nothing to do
    if (!k || !b || k.exit !== null) return { ok: true };
    try {
      await fn(b, p.data);
      return { ok: true };
    } catch (err) {
      return { ok: false, error: errorOf(err) };
    }
  }

  private async exited(kind: WorkerBackend, id: string, exit: Exit): Promise<void> {
    const k = this.kept.get(id);
    if (!k || k.exit !== null) return;
    const b = this.o.backends[kind];
    const lastLines = b ? await b.logs(id, LOG_TAIL_LINES).catch(() => []) : [];
    k.exit = exit;
    k.lastLines = lastLines;
    this.save();
    this.report({ workerId: id, backend: kind, state: 'exited', exit, lastLines });
  }

  private report(s: Report): void {
    this.outbox.push({ ...s, seq: ++this.seq } as AgentWorkerState);
    this.pump();
  }

  /** A new connection: what the hub has is dropped, the rest goes again, then the inventory. */
  private connected(welcome: AgentWelcome): void {
    this.epoch++;
    this.inFlight.clear();
    const has = welcome.lastWorkerSeq ?? 0;
    for (const s of this.outbox.filter((e) => e.seq <= has)) this.acked(s);
    this.pump();
    void this.sendInventory(this.epoch);
  }

  private async sendInventory(epoch: number): Promise<void> {
    const workers = this.inventory();
    try {
      const res = await this.o.link.call('worker_inventory', { workers }, this.o.ackTimeoutMs);
      if ((res as WorkerCommandAck).ok) return;
      this.o.log.warn({ error: (res as { error?: string }).error }, 'the hub refused the worker inventory');
    } catch {
      // not connected, or no answer: again on this connection, or at the next
    }
    if (epoch === this.epoch && this.o.link.ready) this.o.clock.setTimeout(() => void (epoch === this.epoch && this.sendInventory(epoch)), 1000);
  }

  private pump(): void {
    if (!this.o.link.ready) return;
    const epoch = this.epoch;
    for (const s of this.outbox) {
      if (this.inFlight.has(s.seq)) continue;
      this.inFlight.add(s.seq);
      this.o.link.call('worker_state', s, this.o.ackTimeoutMs).then((res) => {
        if (epoch !== this.epoch) return;
        this.inFlight.delete(s.seq);
        const ack = WorkerStateAckSchema.safeParse(res);
        if (ack.success && ack.data.ok) this.acked(s);
        else this.later();
      }, () => {
        if (epoch !== this.epoch) return;
        this.inFlight.delete(s.seq);
        this.later();
      });
    }
  }

  private later(): void {
    this.retry ??= this.o.clock.setTimeout(() => {
      this.retry = null;
      this.pump();
    }, 1000);
  }

  /** The hub has it: out of the outbox; an end acknowledged is forgotten. */
  private acked(s: AgentWorkerState): void {
    const i = this.outbox.indexOf(s);
    if (i >= 0) this.outbox.splice(i, 1);
    if (s.state === 'exited' && this.kept.get(s.workerId)?.exit) {
      this.kept.delete(s.workerId);
      this.save();
    }
  }

  private load(): InventoryItem[] {
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(this.o.stateFile, 'utf8'));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.o.log.warn({ err, file: this.o.stateFile }, 'the workers’ state file is unreadable: starting with none');
      return [];
    }
    const parsed = z.array(InventoryItemSchema).safeParse(json);
    if (!parsed.success) {
      this.o.log.warn({ file: this.o.stateFile }, 'the workers’ state file is unreadable: starting with none');
      return [];
    }
    return parsed.data;
  }

  private save(): void {
    mkdirSync(dirname(this.o.stateFile), { recursive: true });
    const tmp = `${this.o.stateFile}.tmp`;
    writeFileSync(tmp, JSON.stringify(this.inventory()));
    renameSync(tmp, this.o.stateFile);
  }
}
