/**
 * The one SSE frame encoder: every frame the server writes (events, the replay gap, the retry hint, comments) is
 * built here. A field value must not contain CR or LF: it would end the field and let the rest inject fields of its
 * own (Hono's sse.ts rejects them too). `data` is always one line here (JSON), so one `data:` field carries it.
 */
import type { SSE_FORMATS } from '../../shared/names.ts';

/** `event` (named frames) or `message` (unnamed, for `EventSource.onmessage`): SSE_FORMATS in shared/names.ts. */
export type SseFormat = (typeof SSE_FORMATS)[number];

export interface SseFrameFields {
  /** reconnection delay advised to the client, ms */
  retry?: number;
  comment?: string;
  /** an envelope id: an integer, so it cannot carry a line break */
  id?: number;
  event?: string;
  data?: string;
}

/** One value of one field: rejected with the field's name when it holds CR or LF. */
function oneLine(field: string, value: string): string {
  if (/[\r\n]/.test(value)) throw new Error(`SSE ${field} must not contain CR or LF: ${JSON.stringify(value.slice(0, 80))}`);
  return value;
}

function count(field: string, value: number): number {
  if (!(Number.isSafeInteger(value) && value >= 0)) throw new RangeError(`SSE ${field} must be an integer ≥ 0, not ${value}`);
  return value;
}

/** The frame with its fields in a fixed order (retry, comment, id, event, data) and the blank line that ends it. */
export function encodeSseFrame(f: SseFrameFields): string {
  let out = '';
  if (f.retry !== undefined) out += `retry: ${count('retry', f.retry)}\n`;
  if (f.comment !== undefined) out += `: ${oneLine('comment', f.comment)}\n`;
  if (f.id !== undefined) out += `id: ${count('id', f.id)}\n`;
  if (f.event !== undefined) out += `event: ${oneLine('event', f.event)}\n`;
  if (f.data !== undefined) out += `data: ${oneLine('data', f.data)}\n`;
  if (out === '') throw new Error('an SSE frame needs at least one field');
  return `${out}\n`;
}
