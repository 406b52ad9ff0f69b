/**
 * dom-latency: from a pushed event to the DOM update that shows it, measured inside headless Chromium, and the
 * page's memory over a long run (issue 7). The real CLI in a child process; the built dashboard in Chromium
 * (playwright-core, /usr/bin/chromium).
 *
 * In the page (an init script, nothing in the app): the WebSocket's `message` listener notes when each envelope
 * arrives (before socket.io and the app see it); a MutationObserver notes when the DOM first shows an id at least
 * as new (the connection indicator's `data-last-event-id`, updated in the same React commit as the views that
 * changed); a requestAnimationFrame after that notes the start of the frame that paints it. The envelope's `ts`
 * (set by the server when it publishes) gives publish → DOM on the same machine clock.
 *
 * Phase A, overview: host samples every 100 ms = 10 `resource_status`/s (tiles, CPU/memory/disk panels, the
 * network chart) for `minutes` (default 31; --quick 2); the page's JS heap after a forced GC every minute
 * (CDP HeapProfiler.collectGarbage + Runtime.getHeapUsage), DOM nodes and listeners (Performance.getMetrics).
 * Phase B, scheduler view: two GPUs declared and held, then a request for one more GPU submitted and cancelled
 * 2.5 times a second (request_queued + conflict_opened, request_cancelled + conflict_resolved: 10 events/s) with
 * host samples every second, for 2 minutes (--quick 1): the queue rows, toasts and feed change each time.
 * Frames: the rAF interval, and how many frames took longer than 50 ms (a visible stutter).
 * ARBITER_BENCH_DOM_MINUTES overrides phase A's length.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '../test/helpers/chromium.ts';
import { fmt, percentile, sleep, spawnServer, table, tempDir, type BenchOptions, type BenchResult, type ServerProcess } from './lib.ts';

export const TARGET_P95_MS = 100;
export const TARGET_HEAP_GROWTH = 0.1;

/** Runs in the page before the app: taps the WebSocket and watches the DOM. Plain JS (it is serialised). */
const PROBE = `(() => {
  const recv = new Map();
  const out = [];
  let shown = 0;
  const Orig = window.WebSocket;
  class Tapped extends Orig {
    constructor(url, protocols) {
      super(url, protocols);
      this.addEventListener('message', (ev) => {
        const d = ev.data;
        if (typeof d !== 'string' || d.charCodeAt(0) !== 52 || d.charCodeAt(1) !== 50) return;
        const m = /^42\\["(\\w+)",\\{"id":(\\d+),"type":"\\w+","ts":(\\d+)/.exec(d.slice(0, 160));
        if (m) recv.set(Number(m[2]), [performance.now(), Number(m[3]), m[1]]);
      });
    }
  }
  window.WebSocket = Tapped;
  const onDom = () => {
    const el = document.querySelector('[data-testid="connection"]');
    const id = el ? Number(el.getAttribute('data-last-event-id')) : 0;
    if (!(id > shown)) return;
    shown = id;
    const now = performance.now();
    const wall = Date.now();
    const done = [];
    for (const [k, v] of recv) if (k <= id) { done.push([k, v]); recv.delete(k); }
    if (done.length === 0) return;
    requestAnimationFrame(() => {
      const f = performance.now();
      for (const [k, v] of done) out.push([k, v[2], now - v[0], f - v[0], wall - v[1]]);
    });
  };
  new MutationObserver(onDom).observe(document, { subtree: true, attributes: true, attributeFilter: ['data-last-event-id'] });
  const frames = { n: 0, long: 0, worst: 0 };
  let prev = 0;
  const loop = (t) => {
    if (prev) { const d = t - prev; frames.n++; if (d > 50) frames.long++; if (d > frames.worst) frames.worst = d; }
    prev = t;
    requestAnimationFrame(loop);
  };
  requestAnimationFrame(loop);
  window.__domBench = {
    take() {
      const samples = out.splice(0);
      const f = { n: frames.n, long: frames.long, worst: frames.worst };
      frames.n = 0; frames.long = 0; frames.worst = 0;
      return { samples, frames: f, pending: recv.size };
    },
  };
})();`;

/** [id, type, receipt → DOM ms, receipt → frame ms, publish → DOM ms] */
type Sample = [number, string, number, number, number];
interface Take {
  samples: Sample[];
  frames: { n: number; long: number; worst: number };
  pending: number;
}
interface Memory {
  minute: number;
  heapMiB: number;
  nodes: number;
  listeners: number;
}
interface Dist {
  n: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}
interface PhaseResult {
  label: string;
  seconds: number;
  events: number;
  perSec: number;
  recvToDom: Dist;
  recvToFrame: Dist;
  publishToDom: Dist;
  byType: Record<string, Dist>;
  frames: { n: number; long: number; worst: number };
  memory: Memory[];
  perMinuteP95: number[];
}

function dist(values: number[]): Dist {
  const s = [...values].sort((a, b) => a - b);
  return { n: s.length, p50: percentile(s, 50), p95: percentile(s, 95), p99: percentile(s, 99), max: s[s.length - 1] ?? NaN };
}

async function take(page: Page): Promise<Take> {
  return page.evaluate(() => (window as unknown as { __domBench: { take(): Take } }).__domBench.take());
}

async function openDashboard(browser: Browser, server: ServerProcess, path: string): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  await context.addInitScript(PROBE);
  const login = await context.request.get(`${server.url}/?token=${server.token}`, { maxRedirects: 0 });
  if (login.status() !== 302) throw new Error(`login answered ${login.status()}`);
  const page = await context.newPage();
  await page.goto(`${server.url}${path}`);
  await page.getByText('WebSocket live').waitFor({ timeout: 30_000 });
  return page;
}

async function memory(page: Page, minute: number): Promise<Memory> {
  const cdp = await page.context().newCDPSession(page);
  try {
    await cdp.send('Performance.enable');
    await cdp.send('HeapProfiler.collectGarbage');
    const heap = await cdp.send('Runtime.getHeapUsage');
    const { metrics } = await cdp.send('Performance.getMetrics');
    const metric = (name: string) => metrics.find((m) => m.name === name)?.value ?? NaN;
    return { minute, heapMiB: heap.usedSize / 2 ** 20, nodes: metric('Nodes'), listeners: metric('JSEventListeners') };
  } finally {
    await cdp.detach();
  }
}

/** Watch the page for `minutes`, collecting samples, frames and (every minute) memory. `drive` makes events meanwhile. */
async function watch(label: string, page: Page, minutes: number, drive?: { stop(): Promise<number> }): Promise<PhaseResult> {
  await take(page); // drop the start-up
  const samples: Sample[] = [];
  const frames = { n: 0, long: 0, worst: 0 };
  const mem: Memory[] = [];
  const perMinuteP95: number[] = [];
  const t0 = Date.now();
  for (let m = 1; m <= minutes; m++) {
    const minuteSamples: Sample[] = [];
    while (Date.now() - t0 < m * 60_000) {
      await sleep(5000);
      const t = await take(page);
      minuteSamples.push(...t.samples);
      frames.n += t.frames.n;
      frames.long += t.frames.long;
      frames.worst = Math.max(frames.worst, t.frames.worst);
    }
    samples.push(...minuteSamples);
    perMinuteP95.push(dist(minuteSamples.map((s) => s[2])).p95);
    mem.push(await memory(page, m));
    process.stderr.write(`  ${label}: minute ${m}/${minutes}, ${minuteSamples.length} events, p95 ${fmt(perMinuteP95.at(-1)!, 1)} ms, heap ${fmt(mem.at(-1)!.heapMiB, 2)} MiB\n`);
  }
  await drive?.stop();
  const seconds = (Date.now() - t0) / 1000;
  const types = [...new Set(samples.map((s) => s[1]))];
  return {
    label,
    seconds,
    events: samples.length,
    perSec: samples.length / seconds,
    recvToDom: dist(samples.map((s) => s[2])),
    recvToFrame: dist(samples.map((s) => s[3])),
    publishToDom: dist(samples.map((s) => s[4])),
    byType: Object.fromEntries(types.map((t) => [t, dist(samples.filter((s) => s[1] === t).map((s) => s[2]))])),
    frames,
    memory: mem,
    perMinuteP95,
  };
}

async function call(server: ServerProcess, method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: { Authorization: `Bearer ${server.token}`, ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, json: await res.json() };
}

/** Submit a request that waits and cancel it again, 2.5 times a second: 10 scheduler events a second. */
function churn(server: ServerProcess): { stop(): Promise<number> } {
  let running = true;
  let cycles = 0;
  const loop = (async () => {
    const start = Date.now();
    while (running) {
      const r = await call(server, 'POST', '/api/requests', { owner: `user${cycles % 7}`, priority: cycles % 3, resources: { gpus: 1 } });
      const id = (r.json as { request?: { id: string } }).request?.id;
      await sleep(200);
      if (id) await call(server, 'DELETE', `/api/requests/${id}`);
      cycles++;
      const due = start + cycles * 400;
      await sleep(Math.max(0, due - Date.now()));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return cycles;
    },
  };
}

export async function run(opts: BenchOptions): Promise<BenchResult> {
  const envMinutes = Number(process.env.ARBITER_BENCH_DOM_MINUTES);
  const minutesA = Number.isFinite(envMinutes) && envMinutes > 0 ? envMinutes : opts.quick ? 2 : 31;
  const minutesB = opts.quick ? 1 : 2;
  const browser = await launchChromium(['--enable-precise-memory-info']);
  const results: PhaseResult[] = [];
  let version = '';
  try {
    version = browser.version();
    // phase A: overview at 10 resource_status/s
    {
      const server = await spawnServer(['--host-interval-ms', '100', '--no-gpu', '--no-docker']);
      try {
        const page = await openDashboard(browser, server, '/');
        results.push(await watch('overview, 10 resource_status/s', page, minutesA));
        await page.context().close();
      } finally {
        await server.stop();
      }
    }
    // phase B: scheduler view at 10 scheduler events/s (plus a host sample a second)
    {
      const dir = tempDir('arbiter-bench-dom-');
      const config = join(dir, 'config.json');
      writeFileSync(config, JSON.stringify({ resources: { cpu: 8000, memoryMiB: 16384, gpus: [{ index: 0, memoryMiB: 16384, name: 'A' }, { index: 1, memoryMiB: 16384, name: 'B' }] } }));
      const server = await spawnServer(['--config', config, '--no-gpu', '--no-docker']);
      try {
        const held = await call(server, 'POST', '/api/requests', { owner: 'holder', resources: { gpus: 2 }, leaseMs: 24 * 3600_000 });
        if (held.status !== 201) throw new Error(`could not hold the GPUs: ${held.status}`);
        const page = await openDashboard(browser, server, '/scheduler');
        results.push(await watch('scheduler view, 10 scheduler events/s', page, minutesB, churn(server)));
        await page.context().close();
      } finally {
        await server.stop();
      }
    }
  } finally {
    await browser.close();
  }

  const a = results[0]!;
  const worstP95 = Math.max(...results.map((r) => r.recvToDom.p95));
  const first = a.memory[0]!;
  const last = a.memory[a.memory.length - 1]!;
  const growth = (last.heapMiB - first.heapMiB) / first.heapMiB;
  const ms = (d: Dist) => [fmt(d.p50, 1), `**${fmt(d.p95, 1)}**`, fmt(d.p99, 1), fmt(d.max, 1)];
  const rows = results.flatMap((r) => [
    [r.label, 'receipt → DOM', String(r.events), fmt(r.perSec, 1), ...ms(r.recvToDom)],
    [r.label, 'receipt → frame', String(r.events), fmt(r.perSec, 1), ...ms(r.recvToFrame)],
    [r.label, 'publish → DOM', String(r.events), fmt(r.perSec, 1), ...ms(r.publishToDom)],
  ]);
  const typeRows = results.flatMap((r) => Object.entries(r.byType).map(([t, d]) => [r.label, t, String(d.n), fmt(d.p50, 1), fmt(d.p95, 1), fmt(d.max, 1)]));
  const frameRows = results.map((r) => [r.label, String(r.frames.n), fmt(r.frames.n / r.seconds, 1), String(r.frames.long), fmt(r.frames.worst, 0)]);
  const memRows = a.memory
    .filter((m, i) => i === 0 || i === a.memory.length - 1 || m.minute % 5 === 0)
    .map((m) => [String(m.minute), fmt(m.heapMiB, 2), String(m.nodes), String(m.listeners)]);
  const markdown = [
    '## dom-latency',
    '',
    `Pushed event → DOM update in headless Chromium ${version} (playwright-core, 1280×900), measured in the page: receipt = the WebSocket's \`message\` event (before socket.io and the app), DOM = the MutationObserver seeing the connection indicator's \`data-last-event-id\` reach the event's id (same React commit as the views), frame = the next requestAnimationFrame after that commit (the frame that paints it), publish = the envelope's \`ts\` from the server (same machine clock). The real CLI in a child process. Phase A: overview, \`--host-interval-ms 100\` (10 \`resource_status\`/s) for ${minutesA} min; phase B: scheduler view, a waiting request submitted and cancelled 2.5×/s (10 scheduler events/s) plus a host sample each second, for ${minutesB} min.`,
    '',
    `Target p95 ≤ ${TARGET_P95_MS} ms at 10 events/s: **${worstP95 <= TARGET_P95_MS ? 'meets' : 'misses'}** (worst p95 ${fmt(worstP95, 1)} ms). Page heap after ${last.minute} min vs after 1 min: ${fmt(first.heapMiB, 2)} → ${fmt(last.heapMiB, 2)} MiB (${growth >= 0 ? '+' : ''}${fmt(growth * 100, 1)} %; target ≤ +${TARGET_HEAP_GROWTH * 100} %: **${growth <= TARGET_HEAP_GROWTH ? 'meets' : 'misses'}**${last.minute < 30 ? `; a ${last.minute}-minute run, not the 30 minutes of the target` : ''}).`,
    '',
    table(['phase', 'interval', 'events', 'events/s', 'p50 ms', 'p95 ms', 'p99 ms', 'max ms'], rows),
    '',
    'Receipt → DOM per event type:',
    '',
    table(['phase', 'type', 'n', 'p50 ms', 'p95 ms', 'max ms'], typeRows),
    '',
    `p95 receipt → DOM per minute, phase A: ${a.perMinuteP95.map((v) => fmt(v, 1)).join(', ')} ms.`,
    '',
    table(['phase', 'frames', 'frames/s', 'frames > 50 ms', 'longest frame ms'], frameRows),
    '',
    'Phase A memory after a forced GC (CDP `HeapProfiler.collectGarbage`, then `Runtime.getHeapUsage`; DOM nodes and listeners from `Performance.getMetrics`):',
    '',
    table(['minute', 'JS heap used MiB', 'DOM nodes', 'JS event listeners'], memRows),
    '',
  ].join('\n');
  return { name: 'dom-latency', markdown, data: results };
}
