/**
 * One error boundary: every failure leaves as `{error:{code, message, details?}}`, mapped in one place —
 * - an ArbiterError (HttpError, SchedulerError, …): its own status and code;
 * - a request express could not read (bad JSON, a body over the limit, a corrupt gzip/deflate/br body, an unsupported
 *   encoding or charset, a path that is not valid percent-encoding): its 4xx status, `invalid_request`;
 * - anything else: 500 `internal`, the cause in the log (with the URL, its token redacted), never in the response.
 * (A stream that already started, e.g. SSE, is ended instead.)
 */
import type { ErrorRequestHandler, Request, RequestHandler } from 'express';
import type { z } from 'zod';
import { redactSecrets, type Logger } from '../log.ts';
import { ArbiterError, invalidInput } from '../errors.ts';

/** An error raised by a route (the same type the core's errors extend). */
export class HttpError extends ArbiterError {}

/** Parse request input or throw a 400 that names each bad field. */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown, where: 'query' | 'body' | 'params' | 'header'): z.infer<S> {
  const r = schema.safeParse(input);
  if (r.success) return r.data;
  throw invalidInput(`invalid ${where}`, r.error);
}

export const notFound: RequestHandler = (req, _res, next) => {
  next(new HttpError(404, 'not_found', `no route for ${req.method} ${req.path}`));
};

/**
 * The one mapping: what any failure answers with (the cause of an unexpected one goes to the log, with the URL, its
 * token redacted). Every error handler formats what this returns.
 */
export function mapError(err: unknown, req: Request, log: Logger): ArbiterError {
  const e = err instanceof ArbiterError ? err : unreadableRequest(err);
  if (e) return e;
  log.error({ err, method: req.method, url: redactSecrets(req.originalUrl) }, 'unhandled error');
  return new HttpError(500, 'internal', 'internal server error');
}

export function errorBoundary(log: Logger): ErrorRequestHandler {
  return (err: unknown, req, res, _next) => {
    const { status, code, message, details } = mapError(err, req, log);
    if (res.headersSent) {
      res.end();
      return;
    }
    res.status(status).json({ error: { code, message, ...(details !== undefined ? { details } : {}) } });
  };
}

/**
 * A request express could not read, as a 4xx `invalid_request`: body-parser's errors (http-errors: a 4xx `status`
 * with `expose: true` — bad JSON, too large, an unsupported encoding or charset, and a corrupt gzip/deflate/br body,
 * whose zlib error is the one without a body-parser `type`) and the router's URIError for a bad %-escape in a path
 * parameter. Anything else is not the client's doing.
 */
function unreadableRequest(err: unknown): HttpError | null {
  if (!(err instanceof Error) || !('status' in err) || typeof err.status !== 'number') return null;
  if (err.status < 400 || err.status > 499) return null;
  if (err instanceof URIError) return new HttpError(err.status, 'invalid_request', err.message);
  if (!('expose' in err) || err.expose !== true) return null;
  const message = 'type' in err ? err.message : `cannot decompress it (${err.message})`;
  return new HttpError(err.status, 'invalid_request', `invalid body: ${message}`);
}

