/** One error boundary: every failure leaves as `{error:{code, message, details?}}`. */
import type { ErrorRequestHandler, RequestHandler } from 'express';
import type { z } from 'zod';
import type { Logger } from '../log.ts';
import { ArbiterError, invalidInput } from '../errors.ts';

/** An error raised by a route (the same type the core's errors extend). */
export class HttpError extends ArbiterError {}

/** Parse request input or throw a 400 that names each bad field. */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown, where: 'query' | 'body' | 'params'): z.infer<S> {
  const r = schema.safeParse(input);
  if (r.success) return r.data;
  throw invalidInput(`invalid ${where}`, r.error);
}

export const notFound: RequestHandler = (req, _res, next) => {
  next(new HttpError(404, 'not_found', `no route for ${req.method} ${req.path}`));
};

export function errorBoundary(log: Logger): ErrorRequestHandler {
  return (err: unknown, req, res, _next) => {
    let e: ArbiterError;
    if (err instanceof ArbiterError) e = err;
    else if (isBodyParserError(err)) e = new HttpError(err.status, 'invalid_request', err.message);
    else {
      log.error({ err, method: req.method, url: req.originalUrl }, 'unhandled error');
      e = new HttpError(500, 'internal', 'internal server error');
    }
    if (res.headersSent) {
      res.end();
      return;
    }
    res.status(e.status).json({ error: { code: e.code, message: e.message, ...(e.details !== undefined ? { details: e.details } : {}) } });
  };
}

function isBodyParserError(err: unknown): err is { status: number; message: string } {
  return typeof err === 'object' && err !== null && 'status' in err && typeof (err as { status: unknown }).status === 'number' &&
    (err as { status: number }).status >= 400 && (err as { status: number }).status < 500 && 'type' in err;
}
