/**
 * A throw-away Redis for tests: Debian's `redis-server` on a free port of 127.0.0.1, nothing saved to disk, its
 * directory temporary. `stop()` ends it by its pid. When the binary is missing, `redisUnavailable()` says why
 * (`ARBITER_REQUIRE_ENGINES=1`, set by .ci/run, turns that into a failure).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from './cli-server.ts';

export function redisUnavailable(): string | null {
  if (spawnSync('redis-server', ['--version'], { encoding: 'utf8' }).status === 0) return null;
  const why = 'redis-server not found (Debian: apt-get install redis-server); the Redis tests are skipped';
  if (process.env.ARBITER_REQUIRE_ENGINES === '1') throw new Error(why);
  return why;
}

export class TestRedis {
  private readonly exited: Promise<void>;
  private constructor(readonly dir: string, readonly port: number, private readonly proc: ChildProcess) {
    this.exited = new Promise((r) => proc.once('exit', () => r()));
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  static async start(): Promise<TestRedis> {
    const dir = mkdtempSync(join(tmpdir(), 'arbiter-redis-'));
    const port = await freePort();
    const proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    const r = new TestRedis(dir, port, proc);
    const deadline = Date.now() + 20_000;
    for (;;) {
      const c = new Redis(r.url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      c.on('error', () => {});
      try {
        await c.connect();
        await c.ping();
        c.disconnect();
        return r;
      } catch (err) {
        c.disconnect();
        if (Date.now() > deadline || proc.exitCode !== null) {
          await r.stop();
          throw new Error(`redis-server did not start: ${String(err)}`);
        }
        await new Promise((res) => setTimeout(res, 100));
      }
    }
  }

  async stop(): Promise<void> {
    if (this.proc.exitCode === null && this.proc.signalCode === null) {
      this.proc.kill('SIGTERM');
      await this.exited;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
