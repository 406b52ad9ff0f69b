/**
 * A cap on the TCP connections one server holds (`--max-connections`): one more is answered 503 with Retry-After and
 * closed, before any of its bytes are read, so that connections cannot use up the process's file descriptors (which
 * its own work needs too: the store, nvidia-smi's pipes, the Docker socket). The default is the process's limit of
 * open files less a reserve for that work.
 */
import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { Socket } from 'node:net';

/** Descriptors kept for the server's own work when the cap comes from the open-files limit. */
export const FD_RESERVE = 256;

/** The soft limit of open files of this process (/proc/self/limits), or null where it cannot be read. */
export function openFilesLimit(read: () => string = () => readFileSync('/proc/self/limits', 'utf8')): number | null {
  try {
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(read());
    return m && m[1] !== 'unlimited' ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/** `--max-connections` when given (0: none), else the open-files limit less FD_RESERVE (at least 64), else none. */
export function connectionCap(configured: number | undefined, limit = openFilesLimit()): number {
  if (configured !== undefined) return configured;
  return limit === null ? 0 : Math.max(64, limit - FD_RESERVE);
}

const BODY = JSON.stringify({ error: { code: 'too_many_connections', message: 'this server holds as many connections as it may; retry in a moment' } });
const REFUSAL = `HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(BODY)}\r\nConnection: close\r\n\r\n${BODY}`;

/** Count the server's connections; past `max` (0: no cap) answer 503 and close. */
export function capConnections(server: Server, max: number): { open(): number } {
  let open = 0;
  server.prependListener('connection', (socket: Socket) => {
    if (max > 0 && open >= max) {
      // before the HTTP parser sees it: the refusal, then the end
      socket.on('error', () => {});
      socket.end(REFUSAL);
      setTimeout(() => socket.destroy(), 1000).unref();
      return;
    }
    open++;
    socket.once('close', () => open--);
  });
  return { open: () => open };
}
