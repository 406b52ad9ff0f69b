/**
 * SSE for `EventSource.onmessage`: /api/resource-scheduler/push/sse and /api/events?format=message write unnamed
 * frames (no `event:` line) whose `data` is the envelope {id, type, data, ts}, with `id:` lines, the gap notice
 * unnamed too, and resume by Last-Event-ID across a server restart with nothing lost and nothing twice.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Config } from '../../server/config.ts';
import { EnvelopeSchema } from '../../shared/events.ts';
import { FakeHostSource } from '../helpers/fake-host.ts';
import { openSse, type SseFrame } from '../helpers/sse.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const configure = (c: Config) => void (c.resources = { cpu: 4000, memoryMiB: 8192, gpus: [{ index: 0, memoryMiB: 16384 }] });
const submit = async (s: TestServer, owner: string) => {
  const r = await fetch(`${s.url}/api/requests`, {
    method: 'POST', headers: { Authorization: `Bearer ${s.token}`, 'Content-Type': 'application/json' }, body: JSON.stringify({ owner, resources: { cpu: 10 } }),
  });
  expect(r.status).toBe(201);
  return ((await r.json()) as { request: { id: string } }).request.id;
};
/** The envelopes of a stream's frames (each checked: unnamed, its id line the envelope's id). */
const envelopes = (frames: SseFrame[]) => frames.filter((f) => f.id !== undefined).map((f) => {
  expect(f.event).toBeUndefined();
  const env = EnvelopeSchema.parse(JSON.parse(f.data!));
  expect(String(env.id)).toBe(f.id);
  return env;
});
const requestIdOf = (data: unknown) => (data as { request?: { id: string } }).request?.id;

describe('SSE frames for onmessage', () => {
  it('push/sse and /api/events?format=message: unnamed frames of envelopes; /api/events stays named', async () => {
    const s = await startTestServer({ hostSource: new FakeHostSource(), hostIntervalMs: 3_600_000, configure });
    try {
      const q = `access_token=${s.token}`;
      const spec = await openSse(`${s.url}/api/resource-scheduler/push/sse?${q}`);
      const message = await openSse(`${s.url}/api/events?format=message&${q}`);
      const named = await openSse(`${s.url}/api/events?${q}`);
      expect(spec.status).toBe(200);
      expect(spec.headers['content-type']).toMatch(/^text\/event-stream/);
      const id = await submit(s, 'ana');
      const granted = (f: SseFrame[]) => f.some((x) => x.data?.includes(id) && x.data.includes('allocation_granted'));
      for (const c of [spec, message, named]) await c.until(granted);
      for (const c of [spec, message]) {
        const envs = envelopes(c.frames);
        expect(envs.map((e) => e.type)).toEqual(expect.arrayContaining(['resource_status', 'scheduling_update']));
        expect(c.frames.every((f) => f.event === undefined)).toBe(true);
      }
      // the same events, the same ids, in both formats
      expect(envelopes(spec.frames).map((e) => e.id)).toEqual(envelopes(message.frames).map((e) => e.id));
      expect(named.frames.filter((f) => f.id).every((f) => f.event === (JSON.parse(f.data!) as { type: string }).type)).toBe(true);
      for (const c of [spec, message, named]) c.close();

      // types filter and a resume point ahead of the server: the gap notice is an unnamed frame too
      const ahead = await openSse(`${s.url}/api/resource-scheduler/push/sse?types=hint&${q}`, { 'Last-Event-ID': String(s.app.hub.lastId + 100) });
      await ahead.until((f) => f.length > 1);
      const gap = ahead.frames.find((f) => f.data && f.id === undefined)!;
      expect(gap.event).toBeUndefined();
      expect(JSON.parse(gap.data!)).toMatchObject({ type: 'replay_gap', data: { reason: 'ahead_of_server' } });
      ahead.close();

      const bad = await fetch(`${s.url}/api/events?format=named&${q}`);
      expect(bad.status).toBe(400);
      expect(((await bad.json()) as { error: { details: { field: string }[] } }).error.details.map((d) => d.field)).toEqual(['format']);
    } finally {
      await s.close();
    }
  });

  it('resumes by Last-Event-ID across a restart: every event once, none lost, none twice', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'arbiter-sse-message-'));
    dirs.push(dataDir);
    const opts = { dataDir, hostSource: new FakeHostSource(), hostIntervalMs: 3_600_000, configure };
    const types = 'types=scheduling_update,conflict';
    const a = await startTestServer(opts);
    const asked: string[] = [];
    const first = await openSse(`${a.url}/api/resource-scheduler/push/sse?${types}&access_token=${a.token}`);
    for (let i = 0; i < 5; i++) asked.push(await submit(a, `before-${i}`));
    await first.until((f) => envelopes(f).some((e) => requestIdOf(e.data) === asked[4]));
    first.close();
    const seen = envelopes(first.frames);
    const last = seen.at(-1)!.id;
    for (let i = 0; i < 5; i++) asked.push(await submit(a, `missed-${i}`)); // while the client is away
    await a.close();

    const b = await startTestServer(opts);
    try {
      for (let i = 0; i < 5; i++) asked.push(await submit(b, `after-${i}`));
      const resumed = await openSse(`${b.url}/api/resource-scheduler/push/sse?${types}&access_token=${b.token}`, { 'Last-Event-ID': String(last) });
      await resumed.until((f) => envelopes(f).some((e) => e.id === b.app.hub.lastId));
      const all = [...seen, ...envelopes(resumed.frames)];
      const ids = all.map((e) => e.id);
      expect(new Set(ids).size).toBe(ids.length);
      expect([...ids].sort((x, y) => x - y)).toEqual(ids);
      expect(resumed.frames.some((f) => f.data?.includes('replay_gap'))).toBe(false);
      // every request's grant and its allocation, each once
      for (const kind of ['request_granted', 'allocation_granted']) {
        const of = all.filter((e) => (e.data as { kind: string }).kind === kind).map((e) => requestIdOf(e.data) ?? (e.data as { allocation?: { requestId: string } }).allocation?.requestId);
        expect([...of].sort(), kind).toEqual([...asked].sort());
      }
      resumed.close();
    } finally {
      await b.close();
    }
  });
});
