import { readFileSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { flushMicrotasks } from '../../server/clock.ts';
import type { EngineApi } from '../../server/monitor/sources/docker/api.ts';
import { StatsRounds } from '../../server/monitor/sources/docker/rounds.ts';
import { computeStats, parseStatsBody, readingOf } from '../../server/monitor/sources/docker/stats.ts';

const FIX = new URL('../fixtures/docker-stats/', import.meta.url);
const json = (name: string): unknown => JSON.parse(readFileSync(new URL(name, FIX), 'utf8'));
const NOW = 1_800_000_000_000;
const reading = (name: string) => readingOf(parseStatsBody(json(name))!, NOW);

type Answer = unknown | Error | ((signal: AbortSignal) => Promise<unknown>);

/** An engine whose stats answers are set per container for each round. */
function fakeEngine() {
  const answers = new Map<string, Answer>();
  const asked: { id: string; oneShot: boolean }[] = [];
  const client = {
    statsOnce: async (id: string, oneShot: boolean, signal: AbortSignal) => {
      asked.push({ id, oneShot });
      const a = answers.get(id);
      if (a instanceof Error) throw a;
      if (typeof a === 'function') return (a as (s: AbortSignal) => Promise<unknown>)(signal);
      return a;
    },
  } as Pick<EngineApi, 'statsOnce'> as EngineApi;
  return { client, answers, asked };
}

function rounds(openStream: (id: string) => Promise<PassThrough> = async () => new PassThrough()) {
  return new StatsRounds({ now: () => NOW, timeoutMs: 3_000, openStream });
}

const connErr = () => Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });

afterEach(() => {
  vi.useRealTimers();
});

describe('StatsRounds, one-shot', () => {
  it('asks every container once a round and makes its figures from our own two readings', async () => {
    const { client, answers, asked } = fakeEngine();
    const r = rounds();
    answers.set('a', json('docker-v2-1.json'));
    expect(await r.oneShot(client, ['a'], true, () => true)).toBeNull();
    expect(r.of('a')).toEqual(computeStats(null, reading('docker-v2-1.json')));
    answers.set('a', json('docker-v2-2.json'));
    await r.oneShot(client, ['a'], true, () => true);
    expect(r.of('a')).toEqual(computeStats(reading('docker-v2-1.json'), reading('docker-v2-2.json')));
    expect(r.of('a')!.cpuPercent).toBe(150);
    expect(asked).toEqual([{ id: 'a', oneShot: true }, { id: 'a', oneShot: true }]);
  });

  it('drops the figures of a container that answers with no stats (it stopped meanwhile)', async () => {
    const { client, answers } = fakeEngine();
    const r = rounds();
    answers.set('a', json('docker-v2-1.json'));
    await r.oneShot(client, ['a'], false, () => true);
    answers.set('a', Buffer.alloc(0));
    await r.oneShot(client, ['a'], false, () => true);
    expect(r.of('a')).toBeUndefined();
  });

  it('returns a connection error (the engine is gone) and still takes the other answers', async () => {
    const { client, answers } = fakeEngine();
    const r = rounds();
    const err = connErr();
    answers.set('a', err);
    answers.set('b', json('podman-busy-1.json'));
    expect(await r.oneShot(client, ['a', 'b'], true, () => true)).toBe(err);
    expect(r.of('b')).toBeDefined();
  });

  it('throws when every request failed for another reason, keeping the last figures', async () => {
    const { client, answers } = fakeEngine();
    const r = rounds();
    answers.set('a', json('docker-v2-1.json'));
    await r.oneShot(client, ['a'], true, () => true);
    const before = r.of('a');
    answers.set('a', Object.assign(new Error('(HTTP code 500) boom'), { statusCode: 500 }));
    answers.set('b', Object.assign(new Error('(HTTP code 404) no such container'), { statusCode: 404 }));
    await expect(r.oneShot(client, ['a', 'b'], true, () => true)).rejects.toThrow(
      'container stats failed for all 2 running containers: (HTTP code 500) boom',
    );
    expect(r.of('a')).toBe(before);
    expect(await r.oneShot(client, [], true, () => true)).toBeNull();
  });

  it('bounds the round with one deadline', async () => {
    vi.useFakeTimers();
    const { client, answers } = fakeEngine();
    const r = rounds();
    answers.set('a', (signal: AbortSignal) => new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason))));
    const round = r.oneShot(client, ['a'], true, () => true);
    const failed = expect(round).rejects.toThrow('container stats failed for all 1 running containers: stats request timed out after 3000 ms');
    await vi.advanceTimersByTimeAsync(3_000);
    await failed;
  });

  it('drops answers that arrive once the connection was replaced', async () => {
    const { client, answers } = fakeEngine();
    const r = rounds();
    answers.set('a', json('docker-v2-1.json'));
    await r.oneShot(client, ['a'], true, () => false);
    expect(r.of('a')).toBeUndefined();
  });

  it('forgets a container: its next reading starts afresh', async () => {
    const { client, answers } = fakeEngine();
    const r = rounds();
    answers.set('a', json('docker-v2-1.json'));
    await r.oneShot(client, ['a'], true, () => true);
    r.forget('a');
    expect(r.of('a')).toBeUndefined();
    answers.set('a', json('docker-v2-2.json'));
    await r.oneShot(client, ['a'], true, () => true);
    expect(r.of('a')).toEqual(computeStats(null, reading('docker-v2-2.json')));
  });
});

describe('StatsRounds, streams', () => {
  it('reads the latest frame of each followed container, and closes the streams', async () => {
    const streams = new Map<string, PassThrough>();
    const r = rounds(async (id: string) => {
      const s = new PassThrough();
      streams.set(id, s);
      return s;
    });
    r.follow('a');
    await flushMicrotasks();
    r.readStreams(['a']);
    expect(r.of('a')).toBeUndefined(); // no frame yet
    streams.get('a')!.write(`${JSON.stringify(json('docker-stream-frame.json'))}\n`);
    await flushMicrotasks();
    r.readStreams(['a']);
    expect(r.of('a')).toEqual(computeStats(null, reading('docker-stream-frame.json')));
    r.closeStreams();
    expect(streams.get('a')!.destroyed).toBe(true);
    expect(r.of('a')).toBeDefined(); // figures stay until the container is seen again
  });

  it('opens the stream of a running container it was not following', async () => {
    const opened: string[] = [];
    const r = rounds(async (id: string) => (opened.push(id), new PassThrough()));
    r.readStreams(['b']);
    r.readStreams(['b']);
    expect(opened).toEqual(['b']);
  });
});
