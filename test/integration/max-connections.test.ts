/**
 * --max-connections: past the cap a connection is answered 503 with Retry-After and closed before anything it sends
 * is read; a place freed is taken again. Without the option, the cap is the open-files limit less a reserve
 * (1,100 idle connections under `ulimit -n 1024` used to end the server by EMFILE).
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { connectionCap, FD_RESERVE, openFilesLimit } from '../../server/http/connection-cap.ts';
import { exited, freePort, until } from '../helpers/cli-server.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

describe('--max-connections', () => {
  let s: TestServer | undefined;
  const sockets: net.Socket[] = [];
  afterEach(async () => {
    for (const so of sockets.splice(0)) so.destroy();
    await s?.close();
    s = undefined;
  });

  /** A raw connection and everything it receives. */
  function raw(port: number): Promise<{ socket: net.Socket; text: () => string; closed: Promise<void> }> {
    return new Promise((resolve, reject) => {
      let text = '';
      let close!: () => void;
      const closed = new Promise<void>((r) => (close = r));
      const socket = net.connect(port, '127.0.0.1', () => resolve({ socket, text: () => text, closed }));
      socket.on('data', (b) => (text += b.toString()));
      socket.on('close', () => close());
      socket.on('error', reject);
      sockets.push(socket);
    });
  }

  it('answers the one too many 503 with Retry-After and closes it; a place freed is taken', async () => {
    s = await startTestServer({ configure: (c) => void (c.maxConnections = 5) });
    const port = Number(new URL(s.url).port);
    const held = await Promise.all(Array.from({ length: 5 }, () => raw(port)));
    const extra = await raw(port);
    extra.socket.write(`GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n`);
    await extra.closed;
    expect(extra.text()).toMatch(/^HTTP\/1\.1 503 Service Unavailable\r\n/);
    expect(extra.text()).toMatch(/\r\nRetry-After: 1\r\n/);
    expect(extra.text()).toContain('"code":"too_many_connections"');
    // one of the five goes: a new connection is served
    held[0]!.socket.destroy();
    await held[0]!.closed;
    const next = await until(async () => {
      const r = await fetch(`${s!.url}/api/health`, { headers: { connection: 'close' } }).catch(() => null);
      return r?.status === 200 ? r : undefined;
    }, 'a connection served again', 10_000);
    expect(next.status).toBe(200);
  });

  it('defaults to the open-files limit less a reserve', () => {
    expect(openFilesLimit(() => 'Limit                     Soft Limit           Hard Limit           Units     \nMax open files            1024                 524288               files     \n')).toBe(1024);
    expect(openFilesLimit(() => 'Max open files            unlimited            unlimited            files\n')).toBeNull();
    expect(connectionCap(undefined, 1024)).toBe(1024 - FD_RESERVE);
    expect(connectionCap(undefined, null)).toBe(0);
    expect(connectionCap(0, 1024)).toBe(0);
    expect(connectionCap(50, 1024)).toBe(50);
    expect(openFilesLimit()).toBeGreaterThan(0); // this process's, from /proc/self/limits
  });
});

const prlimit = spawnSync('prlimit', ['--version'], { encoding: 'utf8' }).status === 0;

describe.skipIf(!prlimit)('a connection flood under a low open-files limit', () => {
  it('is refused past the default cap and the server goes on; when it ends, clients are served again', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'arbiter-flood-'));
    const port = await freePort();
    const bin = new URL('../../bin/arbiter.js', import.meta.url).pathname;
    const child = spawn('prlimit', ['--nofile=400:400', process.execPath, bin, 'serve', '--port', String(port), '--data-dir', dataDir,
      '--token', 'flood-test-token-0123456789', '--no-gpu', '--no-docker', '--no-web-build', '--log-level', 'warn'], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ARBITER_NO_WEB_BUILD: '1' } });
    const flood: net.Socket[] = [];
    try {
      let out = '';
      child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
      await until(() => out.includes('Dashboard:') || child.exitCode !== null, 'the server up', 60_000);
      // 450 idle connections: more than the cap (400 − 256 = 144) and than the limit itself
      let refused = 0;
      let closed = 0;
      await Promise.all(Array.from({ length: 450 }, () => new Promise<void>((resolve) => {
        const so = net.connect(port, '127.0.0.1', () => resolve());
        so.on('data', (b) => {
          if (b.toString().startsWith('HTTP/1.1 503')) refused++;
        });
        so.on('error', () => resolve());
        so.on('close', () => closed++);
        flood.push(so);
      })));
      // every one past the cap is closed by the server: answered 503 — or, while the refusals in flight hold the
      // reserve's descriptors (a refusal keeps its own until the client closes, at most a second), accepted and
      // closed at once at the limit itself (libuv's answer to EMFILE), as when this machine is busy and the clients
      // slow to close (clients that never close: 233 of the 306 answered 503, the others closed unanswered)
      await until(() => closed >= 450 - 144, 'the connections past the cap closed', 20_000);
      expect(refused).toBeGreaterThan(0);
      expect(child.exitCode).toBeNull();
      for (const so of flood) so.destroy();
      const health = await until(async () => {
        const r = await fetch(`http://127.0.0.1:${port}/api/health`).catch(() => null);
        return r?.status === 200 ? r : undefined;
      }, 'served again after the flood', 20_000);
      expect(health.status).toBe(200);
      expect(child.exitCode).toBeNull();
    } finally {
      for (const so of flood) so.destroy();
      child.kill('SIGTERM');
      await exited(child);
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 120_000);
});
