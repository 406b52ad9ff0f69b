/**
 * A worker's output as lines. The engine's `logs` body is multiplexed when the container has no TTY (ours never
 * do): frames of an 8-byte header — stream (0 stdin, 1 stdout, 2 stderr), three zero bytes, the payload's length
 * (big-endian uint32) — then the payload. Each stream is cut into lines on its own (a line may span frames, a
 * UTF-8 character too), and lines come out in the order they were completed. A TTY body is the raw text.
 */

const HEADER = 8;

/** Whether `body` starts like a multiplexed stream and its frames add up to its length exactly. */
function isMultiplexed(body: Buffer): boolean {
  let at = 0;
  while (at < body.length) {
    if (body.length - at < HEADER) return false;
    if (body[at]! > 2 || body[at + 1] !== 0 || body[at + 2] !== 0 || body[at + 3] !== 0) return false;
    at += HEADER + body.readUInt32BE(at + 4);
  }
  return at === body.length;
}

/** The lines of a `logs` body (the last one kept even without its newline; a trailing CR dropped). */
export function logLines(body: Buffer, tty: boolean): string[] {
  const out: string[] = [];
  const emit = (bytes: Buffer) => out.push(bytes.toString('utf8').replace(/\r$/, ''));
  if (tty || !isMultiplexed(body)) {
    splitInto(body, emit, true);
    return out;
  }
  const pending = new Map<number, Buffer>();
  for (let at = 0; at < body.length;) {
    const stream = body[at]!;
    const size = body.readUInt32BE(at + 4);
    const payload = body.subarray(at + HEADER, at + HEADER + size);
    at += HEADER + size;
    const rest = splitInto(Buffer.concat([pending.get(stream) ?? Buffer.alloc(0), payload]), emit, false);
    pending.set(stream, rest);
  }
  for (const rest of pending.values()) if (rest.length > 0) emit(rest);
  return out;
}

/** Emits every complete line of `buf`; returns the unfinished end (emitted too when `flush`). */
function splitInto(buf: Buffer, emit: (line: Buffer) => void, flush: boolean): Buffer {
  let start = 0;
  for (let nl = buf.indexOf(10); nl >= 0; nl = buf.indexOf(10, start)) {
    emit(buf.subarray(start, nl));
    start = nl + 1;
  }
  const rest = buf.subarray(start);
  if (flush && rest.length > 0) emit(rest);
  return rest;
}

/** The last `n` of `lines` (all of them when there are fewer). */
export function lastLines(lines: readonly string[], n: number): string[] {
  return n <= 0 ? [] : lines.slice(Math.max(0, lines.length - n));
}
