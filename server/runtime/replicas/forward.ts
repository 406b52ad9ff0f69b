/**
 * A follower replica's road to the leader: every request it does not answer itself is forwarded as it came
 * (method, path, headers, body streamed) over kept-alive connections, and the leader's answer streamed back — an
 * SSE stream too. WebSocket upgrades are piped byte for byte. When the leader cannot be reached (it died and no
 * replica has taken over yet), the answer is 503 with Retry-After: the client retries, with its Idempotency-Key,
 * and nothing is acknowledged that the leader did not commit.
 */
import { Agent, request, type IncomingMessage, type ServerResponse } from 'node:http';
import { connect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';

/** Headers that belong to one connection, not to the request (RFC 9110 §7.6.1). */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'proxy-authorization', 'proxy-authenticate']);

export interface ForwarderOptions {
  /** the leader's base URL now (http://host:port), or null when none is known */
  leader(): string | null;
  /** told when the leader could not be reached, so that the follower looks again */
  unreachable?(url: string, err: Error): void;
}

export class Forwarder {
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 256 });
  private readonly sockets = new Set<Socket>();

  constructor(private readonly opts: ForwarderOptions) {}

  /** Forward one HTTP request (an express/connect handler at the end of the chain). */
  readonly http = (req: IncomingMessage, res: ServerResponse): void => {
    const base = this.opts.leader();
    if (!base) return unavailable(res, 'no leader replica is known yet');
    const target = new URL(req.url ?? '/', base);
    const headers: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(req.headers)) if (v !== undefined && !HOP_BY_HOP.has(k)) headers[k] = v;
    headers['x-forwarded-for'] = [req.headers['x-forwarded-for'], req.socket.remoteAddress].filter(Boolean).join(', ');
    headers.via = '1.1 arbiter-follower';
    const out = request(target, { method: req.method, headers, agent: this.agent }, (answer) => {
      const back: Record<string, string | string[]> = {};
      for (const [k, v] of Object.entries(answer.headers)) if (v !== undefined && !HOP_BY_HOP.has(k)) back[k] = v;
      res.writeHead(answer.statusCode ?? 502, answer.statusMessage, back);
      res.flushHeaders();
      answer.pipe(res);
      res.on('close', () => answer.destroy());
    });
    out.on('error', (err) => {
      this.opts.unreachable?.(base, err);
      if (!res.headersSent) unavailable(res, `the leader replica (${base}) is not reachable: ${err.message}`);
      else res.destroy();
    });
    req.pipe(out);
    req.on('aborted', () => out.destroy());
  };

  /** Pipe a WebSocket upgrade to the leader (an http server's 'upgrade' listener). */
  readonly upgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const base = this.opts.leader();
    if (!base) return void socket.destroy();
    const url = new URL(base);
    const upstream = connect(Number(url.port || 80), url.hostname, () => {
      const lines = [`${req.method} ${req.url} HTTP/1.1`];
      for (let i = 0; i < req.rawHeaders.length; i += 2) lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
      upstream.write(`${lines.join('\r\n')}\r\n\r\n`);
      if (head.length) upstream.write(head);
      upstream.pipe(socket);
      socket.pipe(upstream);
    });
    this.sockets.add(upstream);
    upstream.on('close', () => this.sockets.delete(upstream));
    upstream.on('error', (err) => {
      this.opts.unreachable?.(base, err);
      socket.destroy();
    });
    socket.on('error', () => upstream.destroy());
    socket.on('close', () => upstream.destroy());
  };

  close(): void {
    for (const s of this.sockets) s.destroy();
    this.agent.destroy();
  }
}

function unavailable(res: ServerResponse, message: string): void {
  res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '1' });
  res.end(JSON.stringify({ error: 'leader_unavailable', message: `${message}; retry (with the same Idempotency-Key) in a moment` }));
}
