/** A restart — clean or kill -9 in the middle of submits — loses no acknowledged request, allocation or event. */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { FakeHostSource } from '../helpers/fake-host.ts';
import { serverDatabases } from '../helpers/postgres.ts';
import { openSse } from '../helpers/sse.ts';
import { startTestServer } from '../helpers/server.ts';
import type { Config } from '../../server/config.ts';

const BIN = new URL('../../bin/arbiter.js', import.meta.url).pathname;
const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'arbiter-restart-'));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const resources: NonNullable<Config['resources']> = { cpu: 4000, memoryMiB: 8192, gpus: [{ index: 0, memoryMiB: 16384 }] };

describe.each(serverDatabases())('scheduler across restarts, the store on $name', (database) => {
  it('comes back with the same queue and allocations, and a resuming client gets the events it missed', async () => {
    const dataDir = tmp();
    const url = await database.url();
    const configure = (c: Config) => {
      c.resources = resources;
      if (url) c.database = url;
    };
    const opts = { dataDir, hostSource: new FakeHostSource(), hostIntervalMs: 3_600_000, configure };
    const a = await startTestServer(opts);
    const post = (url: string, token: string, body: unknown) =>
      fetch(`${url}/api/requests`, { method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    const sse = await openSse(`${a.url}/api/events?types=scheduling_update,conflict&access_token=${a.token}`);
    const first = (await (await post(a.url, a.token, { owner: 'ana', resources: { gpus: 1 } })).json()) as { allocation: { id: string } };
    await sse.until((f) => f.some((x) => x.id));
    const seen = Math.max(...sse.frames.filter((f) => f.id).map((f) => Number(f.id)));
    sse.close();
    // missed by the client: a queued request and its conflict
    const queued = (await (await post(a.url, a.token, { owner: 'bo', resources: { gpus: 1 } })).json()) as { request: { id: string } };
    const lastBefore = a.app.hub.lastId;
    await a.close();

    const b = await startTestServer(opts);
    try {
      const allocs = (await (await fetch(`${b.url}/api/allocations`, { headers: { Authorization: `Bearer ${b.token}` } })).json()) as { allocations: { id: string }[] };
      expect(allocs.allocations.map((x) => x.id)).toEqual([first.allocation.id]);
      const queue = (await (await fetch(`${b.url}/api/queue`, { headers: { Authorization: `Bearer ${b.token}` } })).json()) as { items: { request: { id: string } }[] };
      expect(queue.items.map((x) => x.request.id)).toEqual([queued.request.id]);
      const resumed = await openSse(`${b.url}/api/events?types=scheduling_update,conflict&access_token=${b.token}`, { 'Last-Event-ID': String(seen) });
      await resumed.until((f) => f.some((x) => x.id && Number(x.id) === lastBefore) , 5000);
      const kinds = resumed.frames.filter((f) => f.data).map((f) => (JSON.parse(f.data!) as { data: { kind: string } }).data.kind);
      expect(kinds).toEqual(expect.arrayContaining(['request_queued', 'conflict_opened']));
      expect(resumed.frames.some((f) => f.event === 'replay_gap')).toBe(false);
      const got = resumed.frames.filter((f) => f.id).map((f) => Number(f.id));
      expect(new Set(got).size).toBe(got.length);
      expect(Math.min(...got)).toBeGreaterThan(seen);
      resumed.close();
    } finally {
      await b.close();
    }
  });

  it('keeps every acknowledged request exactly once after kill -9 in the middle of 200 concurrent submits', async () => {
    const dataDir = tmp();
    const dbUrl = await database.url();
    const config = join(dataDir, 'config.json');
    writeFileSync(config, JSON.stringify({ resources: { cpu: 1000, memoryMiB: 1024, gpus: [] } }));
    const env = { ...process.env, ARBITER_NO_WEB_BUILD: '1', ARBITER_LOG_LEVEL: 'warn', ARBITER_NO_GPU: '1', ARBITER_NO_DOCKER: '1', ARBITER_TOKEN: 'restart-test-token-0123456789' };
    const start = async (): Promise<{ child: ChildProcess; url: string }> => {
      const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--data-dir', dataDir, '--config', config, ...(dbUrl ? ['--database', dbUrl] : [])], { env, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout!.setEncoding('utf8');
      const url = await new Promise<string>((resolve, reject) => {
        child.stdout!.on('data', (c: string) => {
          out += c;
          const m = /Dashboard: (http:\/\/127\.0\.0\.1:\d+)\//.exec(out);
          if (m) resolve(m[1]!);
        });
        child.on('exit', (code) => reject(new Error(`server exited ${code}: ${out}`)));
      });
      return { child, url };
    };
    const headers = { Authorization: `Bearer ${env.ARBITER_TOKEN}`, 'Content-Type': 'application/json' };
    const a = await start();
    const acked = new Map<string, string>(); // idempotency key → request id
    const submits = Array.from({ length: 200 }, (_, i) =>
      fetch(`${a.url}/api/requests`, { method: 'POST', headers: { ...headers, 'Idempotency-Key': `k-${i}` }, body: JSON.stringify({ owner: `u${i % 7}`, resources: { cpu: 100 } }) })
        .then(async (r) => {
          if (r.status === 201 || r.status === 202) acked.set(`k-${i}`, ((await r.json()) as { request: { id: string } }).request.id);
        })
        .catch(() => {}));
    // kill once some have been acknowledged, with others in flight
    while (acked.size < 40) await new Promise((r) => setTimeout(r, 2));
    a.child.kill('SIGKILL');
    await Promise.all(submits);
    expect(acked.size).toBeGreaterThanOrEqual(40);

    const b = await start();
    try {
      for (const [key, id] of acked) {
        const r = await fetch(`${b.url}/api/requests/${id}`, { headers });
        expect(r.status, `request ${id}`).toBe(200);
        // a retry with the same key finds the same request, not a second one
        const again = await fetch(`${b.url}/api/requests`, { method: 'POST', headers: { ...headers, 'Idempotency-Key': key }, body: JSON.stringify({ owner: `u${Number(key.slice(2)) % 7}`, resources: { cpu: 100 } }) });
        expect(((await again.json()) as { request: { id: string } }).request.id).toBe(id);
      }
      const queue = (await (await fetch(`${b.url}/api/queue?limit=1000`, { headers })).json()) as { total: number; items: { request: { id: string } }[] };
      const allocs = (await (await fetch(`${b.url}/api/allocations`, { headers })).json()) as { allocations: { requestId: string }[] };
      const all = [...queue.items.map((x) => x.request.id), ...allocs.allocations.map((x) => x.requestId)];
      expect(new Set(all).size).toBe(all.length);
      for (const id of acked.values()) expect(all).toContain(id);
      if (dbUrl) {
        // and they are in PostgreSQL, not in a file of the data dir
        expect(existsSync(join(dataDir, 'arbiter.db'))).toBe(false);
        const c = new pg.Client({ connectionString: dbUrl });
        await c.connect();
        const { rows } = await c.query<{ id: string }>('SELECT id FROM requests');
        await c.end();
        for (const id of acked.values()) expect(rows.map((r) => r.id)).toContain(id);
      }
    } finally {
      b.child.kill('SIGTERM');
      await new Promise((r) => b.child.on('exit', r));
    }
  });
});
