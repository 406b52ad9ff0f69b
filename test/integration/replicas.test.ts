/**
 * Two hub replicas (`arbiter serve` processes) on one PostgreSQL store and one Redis, both started by the test: the
 * first leads, the second follows (forwards writes, answers the scheduler's reads from the store itself, serves push
 * from the Redis stream with the same event ids); a
 * client resumes on the other replica without a lost or a duplicated event; the leader killed with -9 under 100
 * concurrent submits is replaced by the follower from the database, and every acknowledged request is there.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { exited, freePort, spawnAgent, startCliServer, until } from '../helpers/cli-server.ts';
import { postgresUnavailable, TestPostgres } from '../helpers/postgres.ts';
import { redisUnavailable, TestRedis } from '../helpers/redis.ts';
import { openWs, wsUrl } from '../helpers/ws.ts';
import { openSse, type SseFrame } from '../helpers/sse.ts';
import type { NodesResponse } from '../../shared/agents.ts';
import type { Allocation } from '../../shared/scheduler.ts';

const AGENT_TOKEN = 'replicas-agent-token-0123456789';

const TOKEN = 'replicas-test-token-0123456789';
const headers = { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' };
const why = postgresUnavailable() ?? redisUnavailable();

describe.skipIf(why !== null)('hub replicas on PostgreSQL and Redis', () => {
  let pg: TestPostgres;
  let redis: TestRedis;
  const dirs: string[] = [];
  const cleanups: (() => void)[] = [];
  beforeAll(async () => {
    [pg, redis] = await Promise.all([TestPostgres.start(), TestRedis.start()]);
  }, 60_000);
  // the processes of a test end with it, passed or failed: a replica left running would lead the next test's database
  afterEach(() => {
    for (const c of cleanups.splice(0)) c();
  });
  afterAll(async () => {
    await Promise.all([pg?.stop(), redis?.stop()]);
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  /** A replica: its own data dir and port, the shared database (a schema of the test) and Redis. */
  async function replica(database: string, more: string[] = []): Promise<{ child: ChildProcess; url: string; port: number }> {
    const dataDir = mkdtempSync(join(tmpdir(), 'arbiter-replica-'));
    dirs.push(dataDir);
    const config = join(dataDir, 'config.json');
    writeFileSync(config, JSON.stringify({ resources: { cpu: 1000, memoryMiB: 4096, gpus: [{ index: 0, memoryMiB: 16384 }] } }));
    const port = await freePort();
    const child = await startCliServer({
      port, dataDir, token: TOKEN, onCleanup: (fn) => cleanups.push(fn),
      args: ['--config', config, '--database', database, '--redis', redis.url, '--leader-poll-ms', '200', ...more],
    });
    return { child, url: `http://127.0.0.1:${port}`, port };
  }

  const post = (url: string, body: unknown, key?: string) =>
    fetch(`${url}/api/requests`, { method: 'POST', headers: { ...headers, ...(key ? { 'Idempotency-Key': key } : {}) }, body: JSON.stringify(body) });
  const events = (frames: SseFrame[]) => frames.filter((f) => f.id && f.data).map((f) => ({ id: Number(f.id), kind: (JSON.parse(f.data!) as { data: { kind: string } }).data.kind }));

  it('the second replica follows: writes through either, the same events under the same ids, a client resumes on the other', async () => {
    const database = await pg.schema();
    const a = await replica(database);
    const b = await replica(database);
    const types = 'types=scheduling_update,conflict';
    const onA = await openSse(`${a.url}/api/events?${types}&access_token=${TOKEN}`);
    const onB = await openSse(`${b.url}/api/events?${types}&access_token=${TOKEN}`);
    // the follower serves the plain WebSocket too, from the same stream
    const onBws = await openWs(wsUrl(b.url, `/api/ws?${types}&access_token=${TOKEN}`));
    const ids: string[] = [];
    for (let i = 0; i < 10; i++) {
      const r = await post(i % 2 ? b.url : a.url, { owner: `u${i}`, resources: { cpu: 10 } });
      expect(r.status).toBe(201);
      ids.push(((await r.json()) as { request: { id: string } }).request.id);
    }
    // both replicas' clients see every request's events: its request_granted and its allocation_granted
    const seenAll = (f: SseFrame[]) => ids.every((id) => f.filter((x) => x.data?.includes(id)).length >= 2);
    await onA.until(seenAll);
    await onB.until(seenAll);
    const fromA = events(onA.frames);
    expect(events(onB.frames)).toEqual(fromA);
    await onBws.until((r) => r.ids().includes(fromA.at(-1)!.id));
    expect(onBws.events().map((e) => ({ id: e.id, kind: (e.data as { kind: string }).kind }))).toEqual(fromA);
    onBws.close();
    expect(new Set(fromA.map((e) => e.id)).size).toBe(fromA.length);
    onA.close();
    onB.close();

    // a client that read half of A's events resumes on B: the rest, none twice, none missing
    const half = fromA[Math.floor(fromA.length / 2)]!.id;
    const resumed = await openSse(`${b.url}/api/events?${types}&access_token=${TOKEN}`, { 'Last-Event-ID': String(half) });
    await resumed.until((f) => events(f).some((e) => e.id === fromA.at(-1)!.id));
    expect(resumed.frames.some((f) => f.event === 'replay_gap')).toBe(false);
    expect(events(resumed.frames)).toEqual(fromA.filter((e) => e.id > half));
    resumed.close();

    // the follower answers the scheduler's reads itself, from the store: what the leader answers, a write through
    // either replica seen at once on both (one waits, with its conflict)
    const waiting = await post(b.url, { owner: 'big', resources: { cpu: 1000 } });
    expect(waiting.status).toBe(202);
    const waitingId = ((await waiting.json()) as { request: { id: string } }).request.id;
    const reads = ['/api/allocations', '/api/allocations?state=active', '/api/queue', '/api/queue?limit=1&offset=0', '/api/conflicts?status=all', `/api/requests/${waitingId}`, `/api/requests/${ids[3]}`, '/api/requests/nope'];
    const answers = (url: string) => Promise.all(reads.map(async (path) => {
      const r = await fetch(`${url}${path}`, { headers });
      return { path, status: r.status, body: (await r.json()) as unknown };
    }));
    const fromLeader = await answers(a.url);
    expect(fromLeader.map((x) => x.status)).toEqual([200, 200, 200, 200, 200, 200, 200, 404]);
    expect((fromLeader[2]!.body as { total: number }).total).toBe(1);
    expect(await answers(b.url)).toEqual(fromLeader);
    expect(((fromLeader[0]!.body as { allocations: { requestId: string }[] }).allocations.map((x) => x.requestId)).sort()).toEqual([...ids].sort());
    // without a token: refused by the follower itself
    expect((await fetch(`${b.url}/api/allocations`)).status).toBe(401);
    // the leader's status, from its snapshots in the stream: its node, as the leader answers it
    const status = async (url: string, path = '/api/status') => {
      const r = await fetch(`${url}${path}`, { headers });
      return { status: r.status, body: (await r.json()) as { node?: string; sampledAt?: number; cpu?: unknown } };
    };
    const leaderStatus = await status(a.url);
    await until(async () => ((await status(b.url)).body.node === leaderStatus.body.node ? true : undefined), 'the follower has a snapshot of the leader');
    expect((await status(b.url, '/api/status/cpu')).status).toBe((await status(a.url, '/api/status/cpu')).status);
    expect((await fetch(`${b.url}/api/status`)).status).toBe(401);
    // the leader frozen (its lock held: nobody takes over): the follower still answers them, the leader's reads wait
    a.child.kill('SIGSTOP');
    try {
      expect(await answers(b.url)).toEqual(fromLeader);
      const frozen = await status(b.url);
      expect(frozen.status).toBe(200);
      expect(frozen.body.node).toBe(leaderStatus.body.node);
    } finally {
      a.child.kill('SIGCONT');
    }
    for (const r of [a, b]) r.child.kill('SIGTERM');
    await Promise.all([exited(a.child), exited(b.child)]);
  }, 120_000);

  it('the leader killed with -9 under 100 concurrent submits: the follower takes over from the database, every acknowledged request is there', async () => {
    const database = await pg.schema();
    const a = await replica(database);
    const b = await replica(database);
    const sse = await openSse(`${b.url}/api/events?types=scheduling_update&access_token=${TOKEN}`);
    const acked = new Map<string, string>(); // idempotency key → request id
    let killedAt = 0;
    let firstAfter = 0;
    // each client retries through the follower until its request is acknowledged (503 while no replica leads)
    const submit = async (i: number) => {
      const key = `k-${i}`;
      for (;;) {
        try {
          const r = await post(b.url, { owner: `u${i % 7}`, resources: { cpu: 5 } }, key);
          if (r.status === 201 || r.status === 202) {
            acked.set(key, ((await r.json()) as { request: { id: string } }).request.id);
            if (killedAt && !firstAfter) firstAfter = Date.now();
            return;
          }
          await r.body?.cancel();
        } catch {
          // the follower closing its server while it takes over: try again
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    const all = Array.from({ length: 100 }, (_, i) => submit(i));
    await until(() => acked.size >= 30, 'some submits acknowledged');
    a.child.kill('SIGKILL');
    killedAt = Date.now();
    const before = acked.size;
    await Promise.race([Promise.all(all), new Promise((_, reject) => setTimeout(() => reject(new Error(`only ${acked.size} of 100 acknowledged`)), 60_000))]);
    expect(before).toBeLessThan(100);
    // the follower leads (every submit may have been acknowledged before the leader died: wait for it, not for them)
    await until(async () => {
      const r = await fetch(`${b.url}/api/nodes`, { headers }); // the leader's to answer: 503 until one leads
      await r.body?.cancel();
      return r.status === 200 ? true : undefined;
    }, 'the follower leading', 60_000);
    console.info(`replicas: leader killed after ${before} acknowledged submits; the follower answered the next one ${firstAfter - killedAt} ms later`);

    // every acknowledged request is in the new leader, once; a retry with its key finds it
    await Promise.all([...acked].map(async ([key, id]) => {
      const r = await fetch(`${b.url}/api/requests/${id}`, { headers });
      expect(r.status, `request ${id}`).toBe(200);
      await r.body?.cancel();
      const again = await post(b.url, { owner: `u${Number(key.slice(2)) % 7}`, resources: { cpu: 5 } }, key);
      expect(((await again.json()) as { request: { id: string } }).request.id).toBe(id);
    }));
    const allocs = ((await (await fetch(`${b.url}/api/allocations`, { headers })).json()) as { allocations: { requestId: string }[] }).allocations.map((x) => x.requestId);
    expect(new Set(allocs).size).toBe(allocs.length);
    expect(new Set(allocs)).toEqual(new Set(acked.values()));

    // the follower's push client was cut at the takeover; it resumes on the new leader from its last id
    await sse.ended;
    const last = Math.max(...sse.frames.filter((f) => f.id).map((f) => Number(f.id)));
    const resumed = await openSse(`${b.url}/api/events?types=scheduling_update&access_token=${TOKEN}`, { 'Last-Event-ID': String(last) });
    const granted = (f: SseFrame[]) => new Set(f.filter((x) => x.data?.includes('"request_granted"')).map((x) => (JSON.parse(x.data!) as { data: { request: { id: string } } }).data.request.id));
    await resumed.until((f) => [...acked.values()].every((id) => granted([...sse.frames, ...f]).has(id)), 15_000).catch((err: Error) => {
      const seen = granted([...sse.frames, ...resumed.frames]);
      throw new Error(`${err.message.slice(0, 200)}… missing: ${[...acked.values()].filter((id) => !seen.has(id)).join(', ')}; last id before the takeover ${last}`);
    });
    const ids = [...sse.frames, ...resumed.frames].filter((f) => f.id).map((f) => Number(f.id));
    expect(new Set(ids).size).toBe(ids.length);
    resumed.close();
    b.child.kill('SIGTERM');
    await exited(b.child);
  }, 120_000);

  it('three agents reporting through the follower: placed across their nodes; the leader killed with -9, the agents reach the new leader, the allocations stay', async () => {
    const database = await pg.schema();
    const hubArgs = ['--agent-token', AGENT_TOKEN, '--no-local-node', '--unreachable-after-ms', '30000'];
    const a = await replica(database, hubArgs);
    const b = await replica(database, hubArgs);
    const agent = (node: string, capture: string) => {
      const dataDir = mkdtempSync(join(tmpdir(), 'arbiter-replica-agent-'));
      dirs.push(dataDir);
      return spawnAgent({ hub: b.url, node, capture, token: AGENT_TOKEN, args: ['--data-dir', dataDir], onCleanup: (fn) => cleanups.push(fn) });
    };
    const agents = [agent('k80', 'pai-tesla-k80-x4-azure-v10-430.26.xml'), agent('turing', 'pai-rtx-2080ti-x2-v10-410.73.xml'), agent('t4', 'telegraf-tesla-t4-v11-515.105.01.xml')];
    const get = async <T>(url: string, path: string): Promise<T> => (await (await fetch(`${url}${path}`, { headers })).json()) as T;
    // reachable nodes whose GPUs have been reported
    const reachable = async (url: string) => (await get<NodesResponse>(url, '/api/nodes')).nodes.filter((n) => n.status === 'reachable' && n.capacity.gpus > 0).map((n) => n.name).sort();
    // the agents connected to the follower report to the leader
    await until(async () => ((await reachable(a.url)).join() === 'k80,t4,turing' ? true : undefined), 'three nodes at the leader', 30_000);
    const placed: Allocation[] = [];
    // whole GPUs until one waits (some of the captures' GPUs run processes the hub does not manage: not free)
    for (let i = 0; i < 10; i++) {
      const r = await post(b.url, { owner: `u${i}`, resources: { gpus: 1, cpu: 100 } });
      const body = (await r.json()) as { allocation?: Allocation };
      if (!body.allocation) break;
      placed.push(body.allocation);
    }
    expect(new Set(placed.map((x) => x.node)).size, JSON.stringify(placed.map((x) => x.node))).toBeGreaterThan(1);

    a.child.kill('SIGKILL');
    await exited(a.child);
    // b leads: the agents' connections through it were cut with the old leader; they reconnect and reach b itself
    await until(async () => ((await reachable(b.url)).join() === 'k80,t4,turing' ? true : undefined), 'three nodes at the new leader', 60_000);
    const active = (await get<{ allocations: Allocation[] }>(b.url, '/api/allocations')).allocations;
    expect(active.map((x) => [x.id, x.node, x.gpuIndices]).sort()).toEqual(placed.map((x) => [x.id, x.node, x.gpuIndices]).sort());
    expect(agents.every((c) => c.exitCode === null)).toBe(true);
    b.child.kill('SIGTERM');
    await exited(b.child);
  }, 180_000);
});
