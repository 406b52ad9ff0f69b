/**
 * The pieces every small program of Arbiter's serving JSON on node:http shares (the reference task instance, the
 * worker runtime): reading a JSON body with a size limit, answering JSON, listening and learning the port.
 */
import type { IncomingMessage, RequestListener, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ArbiterError } from '../errors.ts';

/**
 * The body as JSON; past `maxBytes` the rest is drained unread and the answer is 413 `too_large`; a body that is
 * not JSON is 400 with `code` (the program's name for a bad input).
 */
export function readJsonBody(req: IncomingMessage, maxBytes: number, code: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= maxBytes) chunks.push(chunk);
    });
    req.on('error', reject);
    req.on('end', () => {
      if (size > maxBytes) return reject(new ArbiterError(413, 'too_large', `body over ${maxBytes} bytes`));
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      } catch (err) {
        reject(new ArbiterError(400, code, `invalid body: (body): not JSON (${(err as Error).message})`));
      }
    });
  });
}

/** Answer with JSON text already serialized. */
export function answerJson(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** Listen on host:port (0: any free port); resolves with the port, rejects when it cannot listen. */
export function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/** Handlers by path and method. */
export type RouteTable<T> = Record<string, Record<string, (req: IncomingMessage) => Promise<T> | T>>;

/**
 * A request listener over a route table: an unknown path is 404 `not_found`, a known path with another method 405
 * `method_not_allowed`; what a handler gives goes to `ok`, what it throws to `fail` (each program answers in its
 * own shape).
 */
export function routeTable<T>(routes: RouteTable<T>, ok: (res: ServerResponse, value: T) => void, fail: (res: ServerResponse, err: unknown) => void): RequestListener {
  return (req, res) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const route = routes[path];
    const handle = route?.[req.method ?? ''];
    if (!route) return fail(res, new ArbiterError(404, 'not_found', `no route ${req.method} ${path}`));
    if (!handle) return fail(res, new ArbiterError(405, 'method_not_allowed', `${path} takes ${Object.keys(route).join(', ')}`));
    Promise.resolve()
      .then(() => handle(req))
      .then((value) => ok(res, value), (err: unknown) => fail(res, err));
  };
}
