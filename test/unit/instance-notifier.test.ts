import { describe, expect, it } from 'vitest';
import { flushMicrotasks, ManualClock } from '../../server/clock.ts';
import type { CallOptions, JsonAnswer } from '../../server/runtime/json-http.ts';
import { CompletionNotifier } from '../../server/instance/notifier.ts';
import { Registration } from '../../server/instance/registration.ts';

interface Call {
  url: string;
  body: Record<string, unknown>;
  opts: CallOptions;
  at: number;
}

/** A scheduler answering from a script: a status per call (then 200), or a thrown error for 'down'. */
function fakePost(clock: ManualClock, script: (number | 'down')[] = []) {
  const calls: Call[] = [];
  const post = async (url: string, body: unknown, opts: CallOptions): Promise<JsonAnswer> => {
    calls.push({ url, body: body as Record<string, unknown>, opts, at: clock.now() });
    const next = script.shift() ?? 200;
    if (next === 'down') throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' });
    const b = body as Record<string, unknown>;
    return { status: next, body: next === 200 ? { status: 'success', message: 'ok', ti_uuid: `ti-${String(b.port)}` } : { status: 'error', message: `status ${next}` } };
  };
  return { calls, post };
}

const notice = (id: string) => ({ task_id: id, result: { id }, execution_time: 0.01, instance_id: 'i-1' });

describe('completion notices', () => {
  it('sends each notice with the token, to {scheduler}/notify/task_complete', async () => {
    const clock = new ManualClock(0);
    const { calls, post } = fakePost(clock);
    const n = new CompletionNotifier({ clock, scheduler: 'http://s:1/', post, token: 'tok' });
    n.send(notice('a'));
    await flushMicrotasks();
    expect(calls).toEqual([{ url: 'http://s:1/notify/task_complete', body: notice('a'), opts: { token: 'tok', timeoutMs: 5000 }, at: 0 }]);
    expect([n.delivered, n.pending]).toEqual([1, 0]);
  });

  it('retries a 5xx or no answer with growing backoff, keeps the order, and resets after a success', async () => {
    const clock = new ManualClock(0);
    const { calls, post } = fakePost(clock, [503, 'down', 500, 200, 503]);
    const lines: string[] = [];
    const n = new CompletionNotifier({ clock, scheduler: 'http://s', post, maxInFlight: 1, backoff: { initialMs: 100, maxMs: 1000 }, log: (l) => lines.push(l) });
    n.send(notice('a'));
    n.send(notice('b'));
    await flushMicrotasks(); // the first try's answer, before time moves
    await clock.advance(10_000);
    // a: 100, 200, 400 ms apart; b fails once after a's success: 100 ms again
    expect(calls.map((c) => [c.body.task_id, c.at])).toEqual([['a', 0], ['a', 100], ['a', 300], ['a', 700], ['b', 700], ['b', 800]]);
    expect([n.delivered, n.pending]).toEqual([2, 0]);
    expect(lines[0]).toMatch(/task a not taken \(HTTP 503: status 503\); retrying in 100 ms/);
    expect(lines[1]).toMatch(/connect ECONNREFUSED 127\.0\.0\.1:9/);
  });

  it('takes 404 and 409 as final (unknown task, result already kept), and any other 4xx too', async () => {
    const clock = new ManualClock(0);
    const { calls, post } = fakePost(clock, [404, 409, 400]);
    const lines: string[] = [];
    const n = new CompletionNotifier({ clock, scheduler: 'http://s', post, maxInFlight: 1, log: (l) => lines.push(l) });
    for (const id of ['a', 'b', 'c']) n.send(notice(id));
    await clock.advance(60_000);
    expect(calls.map((c) => c.body.task_id)).toEqual(['a', 'b', 'c']);
    expect([n.refused, n.delivered, n.pending]).toEqual([3, 0, 0]);
    expect(lines).toEqual([expect.stringMatching(/task c refused: HTTP 400/)]);
  });

  it('sends up to maxInFlight at once', async () => {
    const clock = new ManualClock(0);
    const resolvers: ((a: JsonAnswer) => void)[] = [];
    const post = () => new Promise<JsonAnswer>((r) => resolvers.push(r));
    const n = new CompletionNotifier({ clock, scheduler: 'http://s', post, maxInFlight: 2 });
    for (const id of ['a', 'b', 'c']) n.send(notice(id));
    expect(resolvers).toHaveLength(2);
    resolvers[0]!({ status: 200, body: null });
    await flushMicrotasks();
    expect(resolvers).toHaveLength(3);
    expect(n.pending).toBe(2);
  });

  it('keeps notices while the scheduler is down, up to maxPending, then drops the oldest', async () => {
    const clock = new ManualClock(0);
    const { calls, post } = fakePost(clock, ['down']);
    const lines: string[] = [];
    const n = new CompletionNotifier({ clock, scheduler: 'http://s', post, maxPending: 3, maxInFlight: 1, backoff: { initialMs: 100 }, log: (l) => lines.push(l) });
    n.send(notice('a'));
    await flushMicrotasks(); // a failed: backing off
    for (const id of ['b', 'c']) n.send(notice(id));
    expect(n.pending).toBe(3);
    n.send(notice('d'));
    expect(n.dropped).toBe(1);
    expect(lines.at(-1)).toMatch(/task a dropped: 3 notices are waiting/);
    await clock.advance(1000);
    expect(calls.map((c) => c.body.task_id)).toEqual(['a', 'b', 'c', 'd']);
    expect([n.delivered, n.pending]).toEqual([3, 0]);
  });

  it('gives up what is pending on close', async () => {
    const clock = new ManualClock(0);
    const { calls, post } = fakePost(clock, [503]);
    const n = new CompletionNotifier({ clock, scheduler: 'http://s', post });
    n.send(notice('a'));
    await flushMicrotasks();
    n.close();
    await clock.advance(60_000);
    n.send(notice('b'));
    expect(calls).toHaveLength(1);
    expect(clock.pendingTimers()).toBe(0);
  });
});

describe('registration', () => {
  const body = { host: '127.0.0.1', port: 9001, model_name: 'm' };

  it('registers, trying again with backoff until the scheduler answers', async () => {
    const clock = new ManualClock(0);
    const { calls, post } = fakePost(clock, ['down', 503, 'down']);
    const lines: string[] = [];
    const r = new Registration({ clock, scheduler: 'http://s/', post, token: 'tok', body, log: (l) => lines.push(l) });
    r.start();
    await flushMicrotasks(); // the first try's answer, before time moves
    await clock.advance(10_000);
    expect(calls.map((c) => [c.url, c.at])).toEqual([['http://s/ti/register', 0], ['http://s/ti/register', 200], ['http://s/ti/register', 600], ['http://s/ti/register', 1400]]);
    expect(calls[0]!.body).toEqual(body);
    expect(calls[0]!.opts.token).toBe('tok');
    expect(await r.done).toBe('ti-9001');
    expect(lines).toEqual([expect.stringMatching(/cannot register with http:\/\/s yet/), 'registered with http://s as ti-9001']);
  });

  it('stops at a refusal (4xx)', async () => {
    const clock = new ManualClock(0);
    const { calls, post } = fakePost(clock, [400]);
    const lines: string[] = [];
    const r = new Registration({ clock, scheduler: 'http://s', post, body, log: (l) => lines.push(l) });
    r.start();
    await flushMicrotasks(); // the first try's answer, before time moves
    await clock.advance(10_000);
    expect(calls).toHaveLength(1);
    expect(await r.done).toBeNull();
    expect(lines).toEqual(['registration refused by http://s: HTTP 400: status 400']);
  });

  it('removes itself when registered, and only then', async () => {
    const clock = new ManualClock(0);
    const { calls, post } = fakePost(clock, ['down']);
    const r = new Registration({ clock, scheduler: 'http://s', post, body });
    r.start();
    await flushMicrotasks();
    expect(await r.remove()).toBe(false); // not registered yet: nothing to remove, and no more tries
    await clock.advance(10_000);
    expect(calls.map((c) => c.url)).toEqual(['http://s/ti/register']);

    const again = fakePost(clock);
    const r2 = new Registration({ clock, scheduler: 'http://s', post: again.post, body });
    r2.start();
    await r2.done;
    expect(await r2.remove(1000)).toBe(true);
    expect(again.calls.map((c) => [c.url, c.body, c.opts.timeoutMs])).toEqual([
      ['http://s/ti/register', body, 5000], ['http://s/ti/remove', { host: '127.0.0.1', port: 9001 }, 1000],
    ]);
  });
});
