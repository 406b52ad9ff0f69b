/**
 * json-http (the scheduler ↔ instance calls) against real servers on loopback: JSON both ways with the token, text
 * and empty bodies, one kept-alive connection for many calls, the retry of a call whose reused connection the server
 * had closed (once, not forever), refusal and timeout as errors that say what happened.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { errorText, getJson, postJson } from '../../server/runtime/json-http.ts';

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

async function serve(handler: (req: IncomingMessage, body: string, res: ServerResponse, n: number) => void): Promise<{ url: string; connections: () => number }> {
  let connections = 0;
  let n = 0;
  const s = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => handler(req, body, res, ++n));
  });
  s.on('connection', () => connections++);
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(s.address() as AddressInfo).port}`, connections: () => connections };
}

describe('json-http', () => {
  it('posts JSON with the Bearer token and parses the JSON answer; keeps one connection for consecutive calls', async () => {
    const seen: { auth?: string; type?: string; body: string }[] = [];
    const s = await serve((req, body, res) => {
      seen.push({ auth: req.headers.authorization, type: req.headers['content-type'], body });
      res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ got: JSON.parse(body) }));
    });
    for (let k = 0; k < 3; k++) {
      const a = await postJson(`${s.url}/x`, { k }, { token: 'tok', timeoutMs: 2000 });
      expect(a).toEqual({ status: 201, body: { got: { k } } });
    }
    expect(seen[0]).toEqual({ auth: 'Bearer tok', type: 'application/json', body: '{"k":0}' });
    expect(s.connections()).toBe(1);
  });

  it('gives a body that is not JSON as its text, an empty one as null, and any status as it came', async () => {
    const s = await serve((req, _b, res) => {
      if (req.url === '/text') res.writeHead(503).end('busy, try later');
      else res.writeHead(204).end();
    });
    expect(await getJson(`${s.url}/text`, { timeoutMs: 2000 })).toEqual({ status: 503, body: 'busy, try later' });
    expect(await getJson(`${s.url}/empty`, { timeoutMs: 2000 })).toEqual({ status: 204, body: null });
  });

  it('sends a call once more on a new connection when the kept-alive one was closed under it, and only once', async () => {
    // the second request on the first connection: the server drops the connection without answering
    const s = await serve((req, _b, res, n) => {
      if (n === 2) req.socket.destroy();
      else res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ n }));
    });
    expect((await postJson(`${s.url}/a`, {}, { timeoutMs: 2000 })).body).toEqual({ n: 1 });
    expect((await postJson(`${s.url}/a`, {}, { timeoutMs: 2000 })).body).toEqual({ n: 3 });
    expect(s.connections()).toBe(2);

    // a server that drops every call after the first: the call on the reused connection is tried twice, then fails
    let calls = 0;
    const bad = await serve((req, _b, res) => {
      if (++calls === 1) res.writeHead(200).end('{}');
      else req.socket.destroy();
    });
    await postJson(`${bad.url}/a`, {}, { timeoutMs: 2000 });
    await expect(postJson(`${bad.url}/a`, {}, { timeoutMs: 2000 })).rejects.toMatchObject({ code: 'ECONNRESET' });
    expect(calls).toBe(3);
    // a reset on a fresh connection is final at once
    await expect(postJson(`${bad.url}/a`, {}, { timeoutMs: 2000 })).rejects.toMatchObject({ code: 'ECONNRESET' });
    expect(calls).toBe(4);
  });

  it('fails with the system error when refused, and with a TimeoutError when no answer comes in time', async () => {
    const s = await serve(() => {}); // never answers
    const closed = await serve(() => {});
    const port = new URL(closed.url).port;
    servers.splice(servers.length - 1, 1)[0]!.close();
    const refused = await getJson(`http://127.0.0.1:${port}/health`, { timeoutMs: 2000 }).catch((e: unknown) => e);
    expect(refused).toMatchObject({ code: 'ECONNREFUSED' });
    expect(errorText(refused)).toMatch(/ECONNREFUSED/);
    const late = await getJson(`${s.url}/health`, { timeoutMs: 50 }).catch((e: unknown) => e);
    expect(late).toMatchObject({ name: 'TimeoutError' });
    expect(errorText(late)).toBe(`no answer from ${new URL(s.url).host} in 50 ms`);
  });
});
