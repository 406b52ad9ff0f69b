/**
 * The pieces every small program of Arbiter's serving JSON on node:http shares (the reference task instance, the
 * worker runtime): reading a JSON body with a size limit, answering JSON, listening and learning the port.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
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
