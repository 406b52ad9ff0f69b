/**
 * JSON over HTTP between Arbiter and task instances, both ways: the scheduler delivering tasks and probing health,
 * an instance posting its notices. On node:http with keep-alive agents (one connection per instance reused, not one
 * per task); a request sent on a reused connection that the other side had just closed is sent once more on a new
 * one (the race Node's documentation describes), so a keep-alive timeout never shows as a failed call.
 */
import http from 'node:http';
import https from 'node:https';

export interface JsonAnswer {
  status: number;
  /** the body parsed as JSON; the text as it came when it is not JSON; null when empty */
  body: unknown;
}

export interface CallOptions {
  /** sent as `Authorization: Bearer <token>` */
  token?: string;
  /** the call fails (throws a TimeoutError) when it takes longer */
  timeoutMs: number;
}

/** POST `body` as JSON; throws when there is no answer (refused, reset, timed out). */
export type PostJson = (url: string, body: unknown, opts: CallOptions) => Promise<JsonAnswer>;
/** GET; throws when there is no answer. */
export type GetJson = (url: string, opts: CallOptions) => Promise<JsonAnswer>;

const agents = {
  'http:': new http.Agent({ keepAlive: true, maxSockets: 32 }),
  'https:': new https.Agent({ keepAlive: true, maxSockets: 32 }),
};

export const postJson: PostJson = (url, body, opts) => call('POST', url, JSON.stringify(body), opts);
export const getJson: GetJson = (url, opts) => call('GET', url, undefined, opts);

async function call(method: string, url: string, body: string | undefined, opts: CallOptions): Promise<JsonAnswer> {
  try {
    return await once(method, url, body, opts, false);
  } catch (err) {
    if (!(err instanceof ReusedSocketReset)) throw err;
    return once(method, url, body, opts, true);
  }
}

class ReusedSocketReset extends Error {}

/** One request; `retried`: this is the second try, whatever happens is final. */
function once(method: string, url: string, body: string | undefined, { token, timeoutMs }: CallOptions, retried: boolean): Promise<JsonAnswer> {
  const u = new URL(url);
  const mod = u.protocol === 'https:' ? https : http;
  const agent = agents[u.protocol as keyof typeof agents];
  if (!agent) return Promise.reject(new TypeError(`not an http(s) URL: ${url}`));
  const headers: Record<string, string> = { accept: 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) {
    headers['content-type'] = 'application/json';
    headers['content-length'] = String(Buffer.byteLength(body));
  }
  return new Promise<JsonAnswer>((resolve, reject) => {
    const req = mod.request(u, { method, headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', fail);
      res.on('end', () => {
        clearTimeout(timer);
        const text = Buffer.concat(chunks).toString('utf8');
        let parsed: unknown = text;
        try {
          parsed = text ? JSON.parse(text) : null;
        } catch {
          // not JSON: the text as it came
        }
        resolve({ status: res.statusCode ?? 0, body: parsed });
      });
    });
    const timer = setTimeout(() => {
      const e = new Error(`no answer from ${u.host} in ${timeoutMs} ms`);
      e.name = 'TimeoutError';
      req.destroy(e);
    }, timeoutMs);
    function fail(err: Error): void {
      clearTimeout(timer);
      const code = (err as NodeJS.ErrnoException).code;
      if (req.reusedSocket && !retried && (code === 'ECONNRESET' || code === 'EPIPE')) reject(new ReusedSocketReset(err.message, { cause: err }));
      else reject(err);
    }
    req.on('error', fail);
    req.end(body);
  });
}

/** Whether a failed call is worth trying again: no answer, a 5xx, 408 or 429. */
export function retryable(answer: JsonAnswer | undefined): boolean {
  return answer === undefined || answer.status >= 500 || answer.status === 408 || answer.status === 429;
}

/** `message` of an error body, else the body as text (for a log line). */
export function answerText(answer: JsonAnswer): string {
  const b = answer.body;
  const message = b !== null && typeof b === 'object' && 'message' in b ? (b as { message: unknown }).message : b;
  return `HTTP ${answer.status}${message ? `: ${typeof message === 'string' ? message : JSON.stringify(message)}` : ''}`;
}

/** Why a call got no answer, in a few words: the timeout, or the system's error code (ECONNREFUSED, …). */
export function errorText(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  if (err.name === 'TimeoutError') return err.message;
  const code = (err as NodeJS.ErrnoException).code;
  const cause = err.cause instanceof Error ? `: ${err.cause.message}` : '';
  if (code && !err.message.includes(code)) return `${code}: ${err.message}`;
  return `${err.message}${cause}`;
}
