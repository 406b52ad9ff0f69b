/** A plain WebSocket client over the `ws` package that records what the server sends (events and other messages). */
import WebSocket from 'ws';
import type { Envelope } from '../../shared/events.ts';
import type { WsControlMessage } from '../../shared/websocket.ts';

export interface WsRecorder {
  ws: WebSocket;
  /** every message, parsed, in arrival order */
  messages: (Envelope | WsControlMessage)[];
  /** the events (messages with an id) */
  events(): Envelope[];
  ids(): number[];
  controls(type?: WsControlMessage['type']): WsControlMessage[];
  send(msg: unknown): void;
  until(pred: (r: WsRecorder) => boolean, timeoutMs?: number): Promise<void>;
  /** resolves with the close code and reason once the connection is closed */
  closed: Promise<{ code: number; reason: string }>;
  close(): void;
}

export function wsUrl(httpUrl: string, path: string): string {
  return httpUrl.replace(/^http/, 'ws') + path;
}

/** Connect; rejects with `unexpected-response <status>` when the upgrade is refused. */
export function openWs(url: string, opts: WebSocket.ClientOptions = {}): Promise<WsRecorder> {
  const ws = new WebSocket(url, opts);
  const rec: WsRecorder = {
    ws,
    messages: [],
    events: () => rec.messages.filter((m): m is Envelope => 'id' in m),
    ids: () => rec.events().map((e) => e.id),
    controls: (type) => rec.messages.filter((m): m is WsControlMessage => !('id' in m) && (type === undefined || m.type === type)),
    send: (msg) => ws.send(JSON.stringify(msg)),
    until: (pred, timeoutMs = 10_000) =>
      new Promise((resolve, reject) => {
        if (pred(rec)) return resolve();
        const timer = setTimeout(() => {
          ws.off('message', check);
          reject(new Error(`condition not met; got ${JSON.stringify(rec.messages.map((m) => ('id' in m ? m.id : m.type)))}`));
        }, timeoutMs);
        const check = () => {
          if (!pred(rec)) return;
          clearTimeout(timer);
          ws.off('message', check);
          resolve();
        };
        ws.on('message', check);
      }),
    closed: new Promise((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() }))),
    close: () => ws.close(),
  };
  ws.on('message', (data, isBinary) => {
    // the protocol is JSON text messages only: a binary frame would be a Blob to a browser's onmessage
    if (isBinary) throw new Error('binary message from the server');
    rec.messages.push(JSON.parse(data.toString()) as Envelope | WsControlMessage);
  });
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(rec));
    ws.once('unexpected-response', (_req, res) => {
      reject(new Error(`unexpected-response ${res.statusCode}`));
      res.resume();
      ws.terminate();
    });
    ws.once('error', reject);
  });
}
