/**
 * The one logger: pino, JSON lines. No line carries a secret: the fields that hold one (authorization and cookie
 * headers, tokens, passwords) are censored by pino's `redact`, and every string field is scrubbed of a token in a
 * URL's query (`?access_token=`, `?token=`) and of a password in a URL (`postgres://user:password@…`).
 * On a terminal the lines are written for people (pino-pretty, in this process); piped or to a file, JSON.
 */
import type { DestinationStream } from 'pino';
import pino, { type Logger } from 'pino';
import pretty from 'pino-pretty';

export type { Logger };

const SECRET_KEYS = ['authorization', 'cookie', 'token', 'agentToken', 'adminToken', 'password', 'access_token'];
/** pino redact paths: those keys at the top, one and two levels down, and in headers */
const REDACT = SECRET_KEYS.flatMap((k) => [k, `*.${k}`, `*.*.${k}`, `headers["${k}"]`, `*.headers["${k}"]`]);

/** A string without the secrets it may carry: a token in a URL's query, a password in a URL. */
export function redactSecrets(text: string): string {
  return text
    .replace(/([?&](?:access_token|token)=)[^&#\s"']*/gi, '$1[redacted]')
    .replace(/(\b[a-z][a-z0-9+.-]*:\/\/[^:/?#@\s"']*:)[^@/?#\s"']+@/gi, '$1***@');
}

/** Every string of a log line's fields, scrubbed (objects and arrays walked, a few levels deep). */
function scrub(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return redactSecrets(value);
  if (depth > 4 || value === null || typeof value !== 'object' || value instanceof Error) return value;
  if (Array.isArray(value)) return value.map((v) => scrub(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = scrub(v, depth + 1);
  return out;
}

export function createLogger(level: string, destination?: DestinationStream): Logger {
  const opts: pino.LoggerOptions = {
    level,
    base: undefined,
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: REDACT, censor: '[redacted]' },
    formatters: { log: (o) => scrub(o) as Record<string, unknown> },
    hooks: {
      // the message too: `log.warn('… %s', url)`
      logMethod(args, method) {
        method.apply(this, args.map((a) => (typeof a === 'string' ? redactSecrets(a) : a)) as Parameters<typeof method>);
      },
    },
    serializers: { err: (e: unknown) => scrub(pino.stdSerializers.err(e as Error)) },
  };
  const to = destination ?? (process.stdout.isTTY ? pretty({ sync: true, colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' }) : undefined);
  return to ? pino(opts, to) : pino(opts);
}
