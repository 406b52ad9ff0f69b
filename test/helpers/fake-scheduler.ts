/**
 * A stand-in for Arbiter's side of the instance contract: a node:http server on 127.0.0.1 (port 0, or a given one
 * to come back on after a restart) that records every call, answers `/ti/register`, `/ti/remove` and
 * `/notify/task_complete` as the scheduler would, checks the Bearer token, and can be told to fail the next calls
 * of a path. `until` waits for a condition on the calls, with a deadline, woken by each call (no polling).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedCall {
  method: string;
  path: string;
  authorization: string | undefined;
  body: unknown;
  /** the status it was answered with */
  status: number;
}

export interface FakeSchedulerOptions {
  /** calls without `Authorization: Bearer <token>` get 401 */
  token?: string;
  /** listen on this port (a restart) @default 0 */
  port?: number;
}

export class FakeScheduler {
  readonly calls: RecordedCall[] = [];
  private readonly failures = new Map<string, number[]>();
  private readonly waiters = new Set<() => void>();
  private server!: Server;
  port = 0;

  private constructor(private readonly opts: FakeSchedulerOptions) {}

  static async start(opts: FakeSchedulerOptions = {}): Promise<FakeScheduler> {
    const f = new FakeScheduler(opts);
    await f.listen(opts.port ?? 0);
    return f;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Answer the next calls of `path` with these statuses, one each (e.g. [503, 503, 503]). */
  fail(path: string, statuses: number[]): void {
    this.failures.set(path, [...(this.failures.get(path) ?? []), ...statuses]);
  }

  callsTo(path: string): RecordedCall[] {
    return this.calls.filter((c) => c.path === path);
  }

  /** Resolves when `pred(calls)` holds; rejects after `timeoutMs`, listing the calls seen. */
  until(pred: (calls: readonly RecordedCall[]) => boolean, what: string, timeoutMs = 10_000): Promise<void> {
    if (pred(this.calls)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = () => {
        if (!pred(this.calls)) return;
        done();
        resolve();
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`${what}: not seen in ${timeoutMs} ms; calls: ${JSON.stringify(this.calls.map((c) => [c.path, c.status]))}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      this.waiters.add(check);
    });
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private listen(port: number): Promise<void> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const path = new URL(req.url ?? '/', 'http://x').pathname;
        const text = Buffer.concat(chunks).toString('utf8');
        const body: unknown = text ? JSON.parse(text) : null;
        const [status, answer] = this.answer(path, req.headers.authorization, body);
        this.calls.push({ method: req.method ?? '', path, authorization: req.headers.authorization, body, status });
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(answer));
        for (const w of [...this.waiters]) w();
      });
    });
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, '127.0.0.1', () => {
        this.port = (this.server.address() as AddressInfo).port;
        resolve();
      });
    });
  }

  private answer(path: string, authorization: string | undefined, body: unknown): [number, unknown] {
    if (this.opts.token && authorization !== `Bearer ${this.opts.token}`) return [401, { status: 'error', message: 'token required', detail: 'token required' }];
    const failing = this.failures.get(path);
    if (failing?.length) {
      const status = failing.shift()!;
      return [status, { status: 'error', message: `failing on purpose with ${status}`, detail: `failing on purpose with ${status}` }];
    }
    const b = body as Record<string, unknown>;
    switch (path) {
      case '/ti/register':
        return [200, { status: 'success', message: 'registered', ti_uuid: `ti-${String(b.host)}-${String(b.port)}` }];
      case '/ti/remove':
        return [200, { status: 'success', message: 'removed', host: b.host, port: b.port, ti_uuid: `ti-${String(b.host)}-${String(b.port)}` }];
      case '/notify/task_complete':
        return [200, { status: 'success', message: 'recorded', total_time_ms: null }];
      default:
        return [404, { status: 'error', message: `no route ${path}`, detail: `no route ${path}` }];
    }
  }
}
