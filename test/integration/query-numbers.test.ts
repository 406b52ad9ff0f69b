/**
 * Numbers in queries and paths are decimal: "0x10", "1e3", "0b1", " 7" and "" are a 400 naming the field (they
 * were read as 16, 1000, 1, 7 and 0), on every route that takes one.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.ts';

describe('numbers in queries and paths', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer();
  });
  afterAll(async () => {
    await s.close();
  });
  const get = async (path: string) => {
    const r = await fetch(`${s.url}${path}`, { headers: { authorization: `Bearer ${s.token}` } });
    return { status: r.status, body: (await r.json()) as { error?: { code: string; details?: { field: string }[] } } };
  };

  it.each([
    ['/api/queue?limit=', 'limit'],
    ['/api/queue?offset=', 'offset'],
    ['/api/conflicts?limit=', 'limit'],
    ['/api/allocations?sinceMs=', 'sinceMs'],
    ['/api/events?lastEventId=', 'lastEventId'],
    ['/api/history?series=cpu.total&stepMs=', 'stepMs'],
    ['/api/dispatch/tasks?limit=', 'limit'],
    ['/api/workflows?limit=', 'limit'],
    ['/api/resource-scheduler/conflicts/queue?limit=', 'limit'],
    ['/api/status/gpus/', 'index'],
  ])('%s… takes decimal digits only (%s)', async (prefix, field) => {
    for (const bad of ['0x10', '1e3', '0b1', '%207', '']) {
      if (bad === '' && prefix.endsWith('/')) continue; // an empty path segment is another route
      const r = await get(`${prefix}${bad}`);
      expect(r.status, `${prefix}${bad}`).toBe(400);
      // the field named: in the error's details, or in the message of the task-dispatch routes' own error format
      expect(JSON.stringify(r.body), `${prefix}${bad}`).toMatch(new RegExp(`"${field}"|\\b${field}\\b`));
    }
  });

  it('takes the same numbers in decimal', async () => {
    expect((await get('/api/queue?limit=16&offset=0')).status).toBe(200);
    expect((await get('/api/allocations?sinceMs=1000')).status).toBe(200);
    expect((await get('/api/history?series=cpu.total&stepMs=1000')).status).toBe(200);
  });
});
