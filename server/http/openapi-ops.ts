/**
 * How the OpenAPI document declares an operation (openapi.ts, openapi-resource-scheduler.ts): each with a stable
 * `operationId` (client generators name their methods after it: rename one and every generated client breaks), the
 * bearer token, and the refusals every secured operation may answer besides its own.
 */
import type { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi';
import type { z } from 'zod';
import { ErrorBodySchema } from '../../shared/api.ts';

/** The token, as `Authorization: Bearer …` (the cookie and `?access_token=` carry the same token). */
export const BEARER = 'bearer';
export const SECURED = [{ [BEARER]: [] }];

/** One operation: method, path, operationId (camelCase, unique, stable), summary, inputs, its own answers. */
export type Operation = [method: 'get' | 'post' | 'put' | 'delete', path: string, operationId: string, summary: string, request: Record<string, unknown>, responses: Record<number, unknown>];

export const ok = (schema: z.ZodType, description = 'OK') => ({ description, content: { 'application/json': { schema } } });
/** A JSON body; required unless `{}` is one (every handler reads a missing body as `{}`). */
export const jsonBody = (schema: z.ZodType) => ({ body: { required: !schema.safeParse({}).success, content: { 'application/json': { schema } } } });
/** An answer with a JSON error body of `schema` (Arbiter's `{error: {code, message, details?}}` unless named). */
export const errorAnswer = (description: string, schema: z.ZodType = ErrorBodySchema) => ({ description, content: { 'application/json': { schema } } });

/**
 * Register `ops` (their paths under `prefix`), each secured, with the refusals that come before its handler: 401
 * without the right token, 429 while the address is locked out for guessing it, and for a body 400 (not JSON) and
 * 413 (over the size limit) unless the operation says more of them.
 */
export function registerOperations(reg: OpenAPIRegistry, ops: readonly Operation[], err: (description: string) => object = errorAnswer, prefix = ''): void {
  for (const [method, path, operationId, summary, request, responses] of ops) {
    const body = 'body' in request ? { 400: err('the body is not JSON, or not as described'), 413: err('the body is over the size limit') } : {};
    // a change needs an operator's token at least (access.ts); a token bound to an owner touches only that owner's
    const role = method === 'get' ? {} : { 403: err("this token's role may not do this, or it is bound to another owner") };
    reg.registerPath({
      method, path: `${prefix}${path}`, operationId, summary, security: SECURED, request,
      responses: { ...body, ...role, 401: err('no or wrong token'), 429: err('too many wrong tokens from this address: locked out for a while (Retry-After)'), ...responses },
    } as never);
  }
}
