/**
 * The frames socket.io's broadcast writes straight to a client's socket (push/socket-direct.ts): a real `ws` client
 * reads each as one text message, at every length encoding (7-bit, 16-bit, 64-bit), between frames `ws` sends itself.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { textFrame } from '../../server/push/socket-direct.ts';

const closers: (() => void)[] = [];
afterEach(() => {
  for (const c of closers.splice(0)) c();
});

/** `n` bytes of ASCII text, different for each n */
const text = (n: number) => `${n}:`.padEnd(n, 'x').slice(0, n);

describe('textFrame', () => {
  it('is read by a ws client as the same text at the edges of each length encoding (7, 16, 64 bits), in order with ws\'s own frames', async () => {
    const lengths = [0, 1, 125, 126, 127, 65_535, 65_536, 70_000];
    const http = createServer();
    const wss = new WebSocketServer({ server: http });
    closers.push(() => http.close(), () => wss.close());
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
    wss.on('connection', (ws) => {
      const raw = (ws as unknown as { _socket: { write(b: Buffer): boolean } })._socket;
      ws.send('first');
      for (const n of lengths) raw.write(textFrame([Buffer.from(text(n).slice(0, n >> 1)), Buffer.from(text(n).slice(n >> 1))]));
      ws.send('last');
    });
    const client = new WebSocket(`ws://127.0.0.1:${(http.address() as AddressInfo).port}`);
    closers.push(() => client.close());
    const got: { text: string; binary: boolean }[] = [];
    await new Promise<void>((resolve, reject) => {
      client.on('message', (data, binary) => {
        got.push({ text: data.toString(), binary });
        if (got.length === lengths.length + 2) resolve();
      });
      client.on('error', reject);
    });
    expect(got.every((m) => !m.binary)).toBe(true);
    expect(got.map((m) => m.text)).toEqual(['first', ...lengths.map(text), 'last']);
  });
});
