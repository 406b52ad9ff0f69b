/**
 * A port for a worker that names none: one the system has free right now (bound to port 0, read, released). Another
 * process may still take it before the worker binds it; the worker then fails to listen and exits, like any worker
 * whose port is taken.
 */
import { createServer } from 'node:net';

/** A TCP port free on `host` at this moment. */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ host, port: 0, exclusive: true }, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close((err) => (err ? reject(err) : port > 0 ? resolve(port) : reject(new Error(`no port bound on ${host}`))));
    });
  });
}
