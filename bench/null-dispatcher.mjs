// The baseline of bench/dispatch.ts's loopback figure: the same wire protocol as Arbiter's task dispatch and
// nothing else — POST /ti/register, POST /queue/submit (answered, then delivered with POST /task/submit to the
// instance), POST /notify/task_complete (answered, then pushed as an SSE task_update), GET /api/events (SSE) — a
// bare node:http server with the Bearer check and JSON bodies, no routing policy, no storage, no validation.
// What Arbiter adds per task is its time minus this one's, both measured by the same client in the same run.
import { randomUUID } from 'node:crypto';
import { Agent, createServer, request } from 'node:http';

const token = process.env.TOKEN ?? '';
const instances = [];
const streams = new Set();
let next = 0;
let eventId = 0;
// deliveries over kept-alive connections, as Arbiter's (server/runtime/json-http.ts)
const agent = new Agent({ keepAlive: true });
function deliver(ti, body) {
  const text = JSON.stringify(body);
  const req = request({ host: ti.host, port: ti.port, path: '/task/submit', method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) } }, (res) => res.resume());
  req.on('error', () => {});
  req.end(text);
}

function json(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

const server = createServer((req, res) => {
  const url = new URL(req.url, 'http://x');
  const auth = req.headers.authorization === `Bearer ${token}` || url.searchParams.get('access_token') === token;
  if (!auth) return json(res, 401, { status: 'error', message: 'no or wrong token' });
  if (req.method === 'GET' && url.pathname === '/api/events') {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    res.write(': open\n\n');
    streams.add(res);
    req.on('close', () => streams.delete(res));
    return;
  }
  let raw = '';
  req.setEncoding('utf8');
  req.on('data', (c) => (raw += c));
  req.on('end', () => {
    const body = raw ? JSON.parse(raw) : {};
    if (url.pathname === '/ti/register') {
      const ti = { id: randomUUID(), host: body.host, port: body.port, model: body.model_name };
      instances.push(ti);
      return json(res, 200, { status: 'success', message: 'registered', ti_uuid: ti.id });
    }
    if (url.pathname === '/queue/submit') {
      const ti = instances[next++ % instances.length];
      const id = randomUUID();
      json(res, 200, { status: 'success', task_id: id, scheduled_ti: ti.id });
      deliver(ti, { task_id: id, model_name: body.model_name, task_input: body.task_input, metadata: body.metadata ?? {} });
      return;
    }
    if (url.pathname === '/notify/task_complete') {
      json(res, 200, { status: 'success', message: 'recorded', total_time_ms: null });
      const frame = `id: ${++eventId}\nevent: task_update\ndata: ${JSON.stringify({ type: 'task_update', data: { kind: 'task_completed', task: { id: body.task_id, result: body.result } } })}\n\n`;
      for (const s of streams) s.write(frame);
      return;
    }
    json(res, 404, { status: 'error', message: 'not found' });
  });
});
server.listen(0, '127.0.0.1', () => process.stdout.write(`Dashboard: http://127.0.0.1:${server.address().port}/\n`));
process.on('SIGTERM', () => process.exit(0));
