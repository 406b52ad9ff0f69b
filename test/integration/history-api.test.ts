/**
 * GET /api/history across both tiers on a real server: a manual clock drives the monitor loop (a host source that
 * reports the seconds since T0 as CPU load) and the roll-up, so minutes of history take no time.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../server/clock.ts';
import type { Source } from '../../server/monitor/loop.ts';
import { HistoryResponseSchema, SeriesListResponseSchema, type HistoryResponse } from '../../shared/api.ts';
import type { HostSample } from '../../shared/resources.ts';
import { fakeHostSample } from '../helpers/fake-host.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

const T0 = Math.ceil(1_700_000_000_000 / 3_600_000) * 3_600_000;
const MIN = 60_000;
const dataDir = mkdtempSync(join(tmpdir(), 'arbiter-history-api-'));
const servers: TestServer[] = [];
afterAll(async () => {
  for (const s of servers) await s.close();
  rmSync(dataDir, { recursive: true, force: true });
});

/** Load = seconds since T0; interface eth1 only during the first minute (a series that leaves memory). */
function hostSource(clock: ManualClock): Source<HostSample, 'host'> {
  return {
    name: 'host',
    async sample() {
      const at = clock.now();
      const s = fakeHostSample((at - T0) / 1000, at);
      if (at < T0 + MIN) s.network.push({ iface: 'eth1', rxBytesPerSec: 5, txBytesPerSec: 6, rxBytesTotal: 0, txBytesTotal: 0 });
      return s;
    },
  };
}

async function start(at: number): Promise<{ s: TestServer; clock: ManualClock }> {
  const clock = new ManualClock(at);
  const s = await startTestServer({
    clock, dataDir, hostSource: hostSource(clock),
    // rings of 2 minutes: the 1-minute tier serves what is older
    configure: (c) => void (c.monitor.historySeconds = 120),
  });
  servers.push(s);
  return { s, clock };
}

async function get<T>(s: TestServer, path: string, parse: { parse(x: unknown): T }): Promise<T> {
  const r = await fetch(`${s.url}${path}`, { headers: { Authorization: `Bearer ${s.token}` } });
  expect(r.status, path).toBe(200);
  return parse.parse(await r.json());
}

const history = (s: TestServer, query: string): Promise<HistoryResponse> => get(s, `/api/history?${query}`, HistoryResponseSchema);
const mean = (a: number, b: number) => (a + b) / 2;
const seconds = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => T0 + (from + i) * 1000);

describe('GET /api/history over memory and the 1-minute tier', () => {
  it('serves older minutes from the database and the last two minutes at 1 s, stitched; the data outlives a restart', async () => {
    const { s, clock } = await start(T0);
    await clock.advance(300_000); // samples at 0, 1, …, 300 s; minutes 0…3 rolled up at 70, 130, 190, 250 s

    // memory holds 181…300 s; from 240 s (the first whole minute in it) it serves, the database before
    const [cpu] = (await history(s, `series=cpu.total&sinceMs=${T0}&untilMs=${clock.now()}`)).series;
    expect(cpu!.t).toEqual([T0, T0 + MIN, T0 + 2 * MIN, T0 + 3 * MIN, ...seconds(240, 300)]);
    expect(cpu!.v.slice(0, 5)).toEqual([mean(0, 59), mean(60, 119), mean(120, 179), mean(180, 239), 240]);
    expect(cpu!.segments).toEqual([{ start: 0, end: 4, resolutionMs: MIN }, { start: 4, end: 65, resolutionMs: 1000 }]);

    const [perMinute] = (await history(s, `series=cpu.total&sinceMs=${T0}&untilMs=${clock.now()}&stepMs=60000`)).series;
    expect(perMinute!.t).toEqual([0, 1, 2, 3, 4, 5].map((m) => T0 + m * MIN));
    expect(perMinute!.v).toEqual([0, 1, 2, 3, 4].map((m) => mean(m * 60, m * 60 + 59)).concat(300));
    expect(perMinute!.segments).toEqual([{ start: 0, end: 6, resolutionMs: MIN }]);

    // the default range is the last hour: what the database has of it comes along
    const [lastHour] = (await history(s, 'series=cpu.total')).series;
    expect(lastHour!.t[0]).toBe(T0);

    // eth1 reported only in the first minute: memory has forgotten it, the database has not
    const list = await get(s, '/api/history/series', SeriesListResponseSchema);
    expect(list.series).toEqual(expect.arrayContaining(['cpu.total', 'net.eth0.rx', 'net.eth1.rx']));
    const [eth1] = (await history(s, `series=net.eth1.rx&sinceMs=${T0}`)).series;
    expect(eth1).toEqual({ name: 'net.eth1.rx', t: [T0], v: [5], segments: [{ start: 0, end: 1, resolutionMs: MIN }] });

    // restart ten minutes later on the same data dir: close() flushed minute 4 and second 300
    await s.close();
    servers.splice(servers.indexOf(s), 1);
    const second = await start(T0 + 600_000);
    await second.clock.advance(10_000); // samples at 600…610 s
    const [after] = (await history(second.s, `series=cpu.total&sinceMs=${T0}&untilMs=${second.clock.now()}`)).series;
    expect(after!.t).toEqual([0, 1, 2, 3, 4, 5].map((m) => T0 + m * MIN).concat(seconds(600, 610)));
    expect(after!.v.slice(0, 7)).toEqual([0, 1, 2, 3, 4].map((m) => mean(m * 60, m * 60 + 59)).concat(300, 600));
    expect(after!.segments).toEqual([{ start: 0, end: 6, resolutionMs: MIN }, { start: 6, end: 17, resolutionMs: 1000 }]);
    const listAfter = await get(second.s, '/api/history/series', SeriesListResponseSchema);
    expect(listAfter.series).toContain('net.eth1.rx');
  });
});
