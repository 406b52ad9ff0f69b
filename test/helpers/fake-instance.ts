/**
 * A minimal task instance on 127.0.0.1 (real HTTP, port 0) for the scheduler-side tests: it records the tasks
 * delivered to it and answers `/task/submit` with the status it is told to (202 by default), and `/health`.
 * The reference instance (`arbiter instance`) is the full one.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { InstanceTask } from '../../shared/dispatch.ts';

export interface FakeInstance {
  port: number;
  received: InstanceTask[];
  /** what /task/submit answers (e.g. 503 to make deliveries fail) */
  status: number;
  healthy: boolean;
  close(): Promise<void>;
}

export async function startFakeInstance(model = 'llm'): Promise<FakeInstance> {
  const received: InstanceTask[] = [];
  const self: FakeInstance = { port: 0, received, status: 202, healthy: true, close: () => Promise.resolve() };
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      if (req.method === 'POST' && req.url === '/task/submit') {
        if (self.status < 300) received.push(JSON.parse(body) as InstanceTask);
        res.writeHead(self.status, { 'content-type': 'application/json' }).end(JSON.stringify({ status: self.status < 300 ? 'accepted' : 'error' }));
      } else if (req.url === '/health') {
        res.writeHead(self.healthy ? 200 : 503, { 'content-type': 'application/json' })
          .end(JSON.stringify({ status: self.healthy ? 'ok' : 'error', instance_id: `fake-${self.port}`, model_type: model, queue_size: received.length }));
      } else {
        res.writeHead(404).end();
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  self.port = (server.address() as AddressInfo).port;
  self.close = () => new Promise<void>((r) => {
    server.closeAllConnections();
    server.close(() => r());
  });
  return self;
}
