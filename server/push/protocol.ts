/** Push protocol constants, in one place (SSE frames are built by sse-frame.ts). */
export const SSE_HEADERS: Readonly<Record<string, string>> = {
  'Content-Type': 'text/event-stream; charset=utf-8',
  'Cache-Control': 'no-cache, no-transform',
  Connection: 'close',
  'X-Accel-Buffering': 'no',
};

/** Bytes queued in a response before an SSE client counts as slow and its events go to its outbox. */
export const SSE_HIGH_WATER_BYTES = 64 * 1024;
/** The same for a plain WebSocket client (bytes its socket has not sent yet). */
export const WS_HIGH_WATER_BYTES = 64 * 1024;

export const SOCKET_ROOM_PREFIX = 'type:';
