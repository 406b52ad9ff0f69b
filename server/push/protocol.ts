/** Push protocol constants, in one place. */
export const SSE_HEADERS: Readonly<Record<string, string>> = {
  'Content-Type': 'text/event-stream; charset=utf-8',
  'Cache-Control': 'no-cache, no-transform',
  Connection: 'keep-alive',
  'X-Accel-Buffering': 'no',
};

/** Bytes queued in a response before an SSE client counts as slow and its events go to its outbox. */
export const SSE_HIGH_WATER_BYTES = 64 * 1024;

export const SOCKET_ROOM_PREFIX = 'type:';
export const CONGESTED_ROOM = 'congested';

/** An SSE field value must not contain CR or LF: it would end the field and let text inject fields. */
export function assertSseValue(field: string, value: string): string {
  if (/[\r\n]/.test(value)) throw new Error(`SSE ${field} must not contain CR or LF`);
  return value;
}

export function sseComment(text: string): string {
  return `: ${assertSseValue('comment', text)}\n\n`;
}

export function sseEvent(event: string, data: string, id?: number): string {
  return `${id !== undefined ? `id: ${id}\n` : ''}event: ${assertSseValue('event', event)}\ndata: ${assertSseValue('data', data)}\n\n`;
}
