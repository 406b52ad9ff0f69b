import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ErrorBodySchema } from '../../shared/api.ts';
import { ArbiterError } from '../../server/errors.ts';
import { HttpError, errorBoundary, notFound, parseInput } from '../../server/http/errors.ts';
import { redactSecrets as redactUrl } from '../../server/log.ts';

/** One app with the API's body parser and boundary, and routes that fail in each way the boundary maps. */
let server: Server;
let url: string;
const logged: { msg: string; url?: string; err?: { message: string; stack: string } }[] = [];
beforeAll(async () => {
  const log = pino({ level: 'error' }, { write: (line: string) => void logged.push(JSON.parse(line)) });
  const app = express();
  app.use(express.json({ limit: '1kb' }));
  app.get('/http', () => {
    throw new HttpError(409, 'ambiguous', 'two match');
  });
  app.get('/core', () => {
    // the core's errors (SchedulerError, StrategyConfigError) are ArbiterErrors with their own status
    throw new ArbiterError(422, 'never_fits', 'needs 3 whole GPU(s); the node has 2');
  });
  app.post('/body', (req, res) => {
    res.json(parseInput(z.strictObject({ n: z.int() }), req.body ?? {}, 'body'));
  });
  app.get('/bug', async () => {
    throw new TypeError('cannot read properties of undefined (secret detail)');
  });
  app.use(notFound);
  app.use(errorBoundary(log));
  server = createServer(app);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

const answer = async (r: Response) => ({ status: r.status, ...ErrorBodySchema.parse(await r.json()).error });
const post = (path: string, body: string) => fetch(`${url}${path}`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body });

describe('the HTTP error boundary', () => {
  it('answers an ArbiterError (route or core) with its own status, code and message', async () => {
    expect(await answer(await fetch(`${url}/http`))).toEqual({ status: 409, code: 'ambiguous', message: 'two match' });
    expect(await answer(await fetch(`${url}/core`))).toMatchObject({ status: 422, code: 'never_fits', message: 'needs 3 whole GPU(s); the node has 2' });
    expect(await answer(await fetch(`${url}/nope`))).toMatchObject({ status: 404, code: 'not_found' });
  });

  it('answers zod problems as 400 invalid_request with {field, message} details', async () => {
    const a = await answer(await post('/body', '{"n":"x","m":1}'));
    expect(a).toMatchObject({ status: 400, code: 'invalid_request' });
    expect(a.message).toMatch(/^invalid body: /);
    expect(a.details).toEqual(expect.arrayContaining([expect.objectContaining({ field: 'n' }), expect.objectContaining({ field: '(body)' })]));
  });

  it("answers the body parser's errors as 4xx invalid_request", async () => {
    expect(await answer(await post('/body', '{"n":'))).toMatchObject({ status: 400, code: 'invalid_request', message: expect.stringMatching(/^invalid body: .*JSON/) });
    expect(await answer(await post('/body', JSON.stringify({ n: 'x'.repeat(2000) })))).toMatchObject({ status: 413, code: 'invalid_request', message: 'invalid body: request entity too large' });
  });

  it('answers anything else with 500 internal, keeping the cause in the log and the token out of it', async () => {
    const before = logged.length;
    const a = await answer(await fetch(`${url}/bug?x=1&access_token=s3cret&y=2`));
    expect(a).toEqual({ status: 500, code: 'internal', message: 'internal server error' });
    const entry = logged.slice(before).find((l) => l.msg === 'unhandled error');
    expect(entry?.err?.message).toBe('cannot read properties of undefined (secret detail)');
    expect(entry?.err?.stack).toContain('TypeError');
    expect(entry?.url).toBe('/bug?x=1&access_token=[redacted]&y=2');
    expect(JSON.stringify(logged)).not.toContain('s3cret');
    // known errors are answers, not incidents: nothing logged for them
    expect(logged.filter((l) => l.msg === 'unhandled error')).toHaveLength(1);
  });

  it('redacts every token in a URL', () => {
    expect(redactUrl('/api/events?access_token=a&types=hint')).toBe('/api/events?access_token=[redacted]&types=hint');
    expect(redactUrl('/?token=abc#x')).toBe('/?token=[redacted]#x');
    expect(redactUrl('/api/x?ACCESS_TOKEN=a&mytoken=b')).toBe('/api/x?ACCESS_TOKEN=[redacted]&mytoken=b');
  });
});
