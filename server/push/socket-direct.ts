/**
 * socket.io's broadcast without engine.io's per-client path: the event as the WebSocket frame socket.io would send
 * for `emit(type, envelope)` — a text frame of engine.io's message packet (`4`) holding socket.io's event packet
 * (`2`) of the main namespace, `42["<type>",<envelope>]` — built once, and the socket it may be written to directly.
 * A frame written there keeps its place among engine.io's own writes only when engine.io has none waiting, so it is
 * written directly only to an open WebSocket transport that is writable, not upgrading, not compressing, with an
 * empty write buffer; every other client gets the event through socket.io (socket.ts).
 * Reads engine.io's and ws's fields that their typings keep private (`writeBuffer`, `transport.socket._socket`);
 * test/integration/socket.test.ts and push-contract.test.ts check the frames against the real socket.io client.
 */
import type { Duplex } from 'node:stream';
import type { Socket as EngineSocket } from 'engine.io';
import { WebSocket } from 'ws';
import type { StoredEvent } from './hub.ts';

interface EngineInternals {
  readyState: string;
  upgrading: boolean;
  writeBuffer: unknown[];
  transport: {
    name: string;
    writable: boolean;
    perMessageDeflate?: unknown;
    socket?: { readyState: number; _socket?: Duplex };
  };
}

/** The event as socket.io's WebSocket frame. */
export function ioFrame(ev: StoredEvent): Buffer {
  return textFrame([Buffer.from(`42["${ev.type}",`), ev.bytes, Buffer.from(']')]);
}

/** A final, unmasked (a server's) WebSocket text frame of `parts` (RFC 6455 §5.2). */
export function textFrame(parts: readonly Buffer[]): Buffer {
  const n = parts.reduce((a, b) => a + b.length, 0);
  const head = n < 126 ? 2 : n < 65_536 ? 4 : 10;
  const frame = Buffer.allocUnsafe(head + n);
  frame[0] = 0x81; // FIN, opcode 1 (text)
  if (head === 2) frame[1] = n;
  else if (head === 4) {
    frame[1] = 126;
    frame.writeUInt16BE(n, 2);
  } else {
    frame[1] = 127;
    frame.writeBigUInt64BE(BigInt(n), 2);
  }
  let at = head;
  for (const p of parts) at += p.copy(frame, at);
  return frame;
}

/** The socket under an engine.io connection's WebSocket transport, or undefined (polling, or gone). */
export function rawSocketOf(conn: EngineSocket): Duplex | undefined {
  const t = (conn as unknown as EngineInternals).transport;
  return t?.name === 'websocket' ? t.socket?._socket : undefined;
}

/**
 * The client is behind: engine.io holds packets for it (its transport has not finished the previous write, or a
 * long-polling client has not polled), or its socket holds more than `highWater` bytes not yet sent.
 */
export function backedUp(conn: EngineSocket, highWater: number): boolean {
  return (conn as unknown as EngineInternals).writeBuffer.length > 0 || (rawSocketOf(conn)?.writableLength ?? 0) > highWater;
}

/** The socket an event may be written to directly now (see the file's comment), or null. */
export function directSocket(conn: EngineSocket): Duplex | null {
  const c = conn as unknown as EngineInternals;
  const t = c.transport;
  if (c.readyState !== 'open' || c.upgrading || c.writeBuffer.length > 0 || !t.writable || t.perMessageDeflate) return null;
  const raw = rawSocketOf(conn);
  return raw && t.socket!.readyState === WebSocket.OPEN && !raw.destroyed ? raw : null;
}
