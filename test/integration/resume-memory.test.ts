/**
 * A resume from far back costs what the client reads, not all it missed at once: 10,000 archived events of 4 KiB
 * (40 MiB), five SSE clients resuming from id 0 that do not read. The server hands each only what its socket takes
 * (the kernel's buffers and one page more), answers other requests meanwhile, and a client that starts reading gets
 * every event once, in order, then the live ones. Before, each resume copied the whole replay into its response's
 * buffer at once (~63 MB per connection, the event loop blocked meanwhile).
 */
import http from 'node:http';
import net from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { hintPayload } from '../helpers/payloads.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

const EVENTS = 10_000;
const MESSAGE = 'x'.repeat(4096);

describe('resuming from far back', () => {
  let s: TestServer | undefined;
  const sockets: net.Socket[] = [];
  afterEach(async () => {
    vi.restoreAllMocks();
    for (const so of sockets.splice(0)) so.destroy();
    await s?.close();
    s = undefined;
  });

  it('hands a client that does not read only what its socket takes; read, it gets every event once, in order, then the live ones', async () => {
    s = await startTestServer({ configure: (c) => void (c.push.replayCount = 100) });
    const published: number[] = [];
    for (let i = 0; i < EVENTS; i++) published.push(s.app.hub.publish('hint', hintPayload(MESSAGE, `h${i}`))!.id);
    const total = EVENTS * MESSAGE.length;

    // the bytes each event stream was handed, by its socket's remote port (an SSE stream writes to its socket itself
    // once its head is out: the sockets are known from writeHead)
    const written = new Map<number, number>();
    const streams = new WeakSet<net.Socket>();
    const writeHead = http.ServerResponse.prototype.writeHead;
    vi.spyOn(http.ServerResponse.prototype, 'writeHead').mockImplementation(function (this: http.ServerResponse, ...args: unknown[]) {
      if (this.req.url?.startsWith('/api/events') && this.socket) streams.add(this.socket);
      return (writeHead as (...a: unknown[]) => http.ServerResponse).apply(this, args);
    });
    const write = net.Socket.prototype.write;
    vi.spyOn(net.Socket.prototype, 'write').mockImplementation(function (this: net.Socket, chunk: unknown, ...rest: unknown[]) {
      if (streams.has(this)) {
        const port = this.remotePort ?? 0;
        written.set(port, (written.get(port) ?? 0) + (typeof chunk === 'string' ? Buffer.byteLength(chunk) : (chunk as Buffer).length));
      }
      return (write as (...a: unknown[]) => boolean).call(this, chunk, ...rest);
    });

    const { port } = new URL(s.url);
    const open = () => new Promise<net.Socket>((resolve) => {
      const so = net.connect(Number(port), '127.0.0.1', () => {
        so.write(`GET /api/events?types=hint HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${s!.token}\r\nLast-Event-ID: 0\r\n\r\n`);
        resolve(so);
      });
      so.pause(); // it does not read
      sockets.push(so);
    });
    const clients = await Promise.all(Array.from({ length: 5 }, open));
    const health = async () => (await fetch(`${s!.url}/api/health`)).status;
    // the server answers others meanwhile; once three round trips in a row hand nothing more, the streams are stuck
    const handed = () => [...written.values()].reduce((a, b) => a + b, 0);
    let last = -1;
    for (let still = 0; still < 3;) {
      expect(await health()).toBe(200);
      const now = handed();
      still = now === last && written.size === 5 ? still + 1 : 0;
      last = now;
    }
    for (const so of clients) {
      const bytes = written.get(so.localPort!) ?? 0;
      expect(bytes, `handed to one client that does not read, of ${total}`).toBeLessThan(total / 2);
      expect(bytes).toBeGreaterThan(0);
    }

    // one reads from now on: all 10,000 once, in order, then an event published meanwhile
    const reader = clients[0]!;
    const live = s.app.hub.publish('hint', hintPayload('live', 'live'))!.id; // after 10,000 (a status snapshot may come between)
    const ids: number[] = [];
    let buf = '';
    await new Promise<void>((resolve, reject) => {
      reader.setEncoding('utf8');
      reader.on('data', (text: string) => {
        buf += text;
        let end: number;
        while ((end = buf.indexOf('\n\n')) >= 0) {
          const frame = buf.slice(0, end);
          buf = buf.slice(end + 2);
          const id = /^id: (\d+)$/m.exec(frame);
          if (id) ids.push(Number(id[1]));
          if (ids.length === EVENTS + 1) resolve();
        }
      });
      reader.on('error', reject);
      reader.resume();
    });
    const expected = [...published, live];
    const wrong = ids.findIndex((id, i) => id !== expected[i]);
    expect(wrong, `ids around the first one out of order: ${ids.slice(Math.max(0, wrong - 3), wrong + 5).join(', ')}`).toBe(-1);
    expect(ids).toHaveLength(EVENTS + 1);
  }, 60_000);
});
