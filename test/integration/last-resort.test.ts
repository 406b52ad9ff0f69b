/**
 * No one client's input may end the server. A socket.io client that sends something other than a function as the
 * ack of `subscribe` used to throw in socket.io's dispatch, outside any handler, and `serve` ended; it gets no
 * answer now. And whatever else is thrown where nothing catches it is `serve`'s last resort's: logged, the server
 * goes on (shown with an exception thrown from a signal listener that a preloaded module adds to the real CLI).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { io } from 'socket.io-client';
import { afterEach, describe, expect, it } from 'vitest';
import { exited, freePort, startCliServer, startLoggedServer, until } from '../helpers/cli-server.ts';

const TOKEN = 'last-resort-token-0123456789';
const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0).reverse()) c();
});

function dir(): string {
  const d = mkdtempSync(join(tmpdir(), 'arbiter-last-resort-'));
  cleanups.push(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

describe('the server goes on', () => {
  it('after a socket.io subscribe whose ack is not a function: no answer to it, the next subscribe answered', async () => {
    const port = await freePort();
    const child = await startCliServer({ port, dataDir: dir(), token: TOKEN, onCleanup: (fn) => cleanups.push(fn) });
    const base = `http://127.0.0.1:${port}`;
    const socket = io(base, { transports: ['websocket'], auth: { token: TOKEN }, reconnection: false });
    cleanups.push(() => socket.disconnect());
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('connect_error', reject);
    });
    (socket.emit as (...a: unknown[]) => void)('subscribe', { types: ['hint'] }, 5);
    (socket.emit as (...a: unknown[]) => void)('subscribe', 'not a subscription', 'nor an ack');
    const answer = await socket.timeout(5000).emitWithAck('subscribe', { types: ['conflict'] });
    expect(answer).toEqual({ ok: true, types: ['conflict'] });
    expect(socket.connected).toBe(true);
    expect((await fetch(`${base}/api/health`)).status).toBe(200);
    expect(child.exitCode).toBeNull();
    child.kill('SIGTERM');
    await exited(child);
  });

  it('after an exception nothing catches: logged, and it serves on', async () => {
    const d = dir();
    const preload = join(d, 'throw-on-usr2.mjs');
    writeFileSync(preload, "process.on('SIGUSR2', () => { throw new Error('thrown where nothing catches it'); });\n");
    const port = await freePort();
    const { child, err } = await startLoggedServer({ port, dataDir: d, token: TOKEN, preload: [preload], onCleanup: (fn) => cleanups.push(fn) });
    child.kill('SIGUSR2');
    await until(() => err().includes('thrown where nothing catches it'), 'the exception logged');
    expect(err()).toContain('an exception nothing caught (the server goes on)');
    expect((await fetch(`http://127.0.0.1:${port}/api/health`)).status).toBe(200);
    expect(child.exitCode).toBeNull();
    child.kill('SIGTERM');
    await exited(child);
  });
});
