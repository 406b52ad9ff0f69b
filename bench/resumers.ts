/**
 * resumers: 200 SSE clients that resume from id 0 and never read, against the compiled server in a child process
 * whose event archive holds what 4,000 submits left in it. Server RSS (/proc/<pid>/status) and `GET /api/health`
 * latency (one every 10 ms, keep-alive, from this process), first without them (the baseline), then from the moment
 * they connect, for the same window. A resume is sent as the client reads (slow-client.ts): what a client that
 * does not read costs is its socket's buffers and a page, not the whole of what it missed.
 * `npm run bench -- --only resumers [--quick]`.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fmt, percentile, spawnServer, table, tempDir, type BenchOptions, type BenchResult } from './lib.ts';

const RESUMERS = 200;
const SUBMITS = 4000;

function rssMiB(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** GET /api/health every 10 ms (one at a time) for `ms`; latencies in ms, and the server's RSS every 250 ms. */
async function healthWindow(url: string, pid: number, ms: number): Promise<{ latencies: number[]; rss: number[] }> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const latencies: number[] = [];
  const rss: number[] = [];
  const t0 = performance.now();
  let sampled = 0;
  while (performance.now() - t0 < ms) {
    const s = performance.now();
    await new Promise<void>((resolve, reject) => {
      request(`${url}/api/health`, { agent }, (res) => {
        res.resume();
        res.on('end', () => resolve());
      }).on('error', reject).end();
    });
    latencies.push(performance.now() - s);
    await new Promise((r) => setTimeout(r, Math.max(0, 10 - (performance.now() - s))));
    if (performance.now() - t0 >= sampled * 250) {
      rss.push(rssMiB(pid));
      sampled++;
    }
  }
  agent.destroy();
  return { latencies: latencies.sort((a, b) => a - b), rss };
}

export async function run(opts: BenchOptions = { quick: false }): Promise<BenchResult> {
  const windowMs = opts.quick ? 5000 : 20_000;
  const dataDir = tempDir('arbiter-bench-resumers-');
  writeFileSync(join(dataDir, 'config.json'), JSON.stringify({ resources: { cpu: 8000, memoryMiB: 32_768, gpus: [] } }));
  const server = await spawnServer(['--config', join(dataDir, 'config.json'), '--no-gpu', '--no-docker', '--no-web-build'], 120_000, [], { dataDir });
  const sockets: Socket[] = [];
  try {
    // the archive: granted requests and, once the cpu is taken, queued ones with their conflicts
    const agent = new Agent({ keepAlive: true, maxSockets: 8 });
    const post = (i: number) => new Promise<void>((resolve, reject) => {
      const body = JSON.stringify({ owner: `user${i % 50}`, resources: { cpu: 10, memoryMiB: 1 }, labels: { job: `resume-bench-${i}`, note: 'x'.repeat(200) } });
      request(`${server.url}/api/requests`, { method: 'POST', agent, headers: { authorization: `Bearer ${server.token}`, 'content-type': 'application/json' } }, (res) => {
        res.resume();
        res.on('end', () => resolve());
      }).on('error', reject).end(body);
    });
    for (let i = 0; i < SUBMITS; i += 8) await Promise.all(Array.from({ length: 8 }, (_, k) => post(i + k)));
    agent.destroy();
    const { port } = new URL(server.url);
    // the bytes one resume from 0 is: read by one client that reads it all
    const whole = await new Promise<number>((resolve, reject) => {
      let bytes = 0;
      let text = '';
      const so = connect(Number(port), '127.0.0.1', () => so.write(`GET /api/events?types=scheduling_update,conflict HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${server.token}\r\nLast-Event-ID: 0\r\n\r\n`));
      so.on('data', (b: Buffer) => {
        bytes += b.length;
        text = (text + b.toString('latin1')).slice(-4000);
        // caught up: a heartbeat comes only once nothing else waits
        if (text.includes(': ping')) { so.destroy(); resolve(bytes); }
      });
      so.on('error', reject);
    });

    const baseline = await healthWindow(server.url, server.pid, windowMs);
    const rssBefore = rssMiB(server.pid);
    const loaded = healthWindow(server.url, server.pid, windowMs);
    for (let i = 0; i < RESUMERS; i++) {
      const so = connect(Number(port), '127.0.0.1', () => so.write(`GET /api/events?types=scheduling_update,conflict HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${server.token}\r\nLast-Event-ID: 0\r\n\r\n`));
      so.pause(); // never reads
      so.on('error', () => {});
      sockets.push(so);
    }
    const under = await loaded;
    const rssAfter = rssMiB(server.pid);
    const still = sockets.filter((s) => !s.destroyed).length;
    const row = (label: string, w: { latencies: number[]; rss: number[] }) => [
      label, String(w.latencies.length), fmt(percentile(w.latencies, 50), 2), `**${fmt(percentile(w.latencies, 99), 2)}**`, fmt(w.latencies.at(-1)!, 1), `**${fmt(Math.max(...w.rss), 0)}**`,
    ];
    const markdown = [
      '## resumers',
      '',
      `${RESUMERS} SSE clients resuming from id 0 (\`Last-Event-ID: 0\`, types scheduling_update and conflict) that never read, against the compiled server whose archive holds what ${SUBMITS} submits left (one resume from 0 read whole is ${fmt(whole / 2 ** 20, 1)} MiB). \`GET /api/health\` every 10 ms (one at a time) from the bench process for ${fmt(windowMs / 1000, 0)} s, first alone (baseline), then from the moment the ${RESUMERS} connect.`,
      '',
      table(['window', 'health requests', 'p50 ms', 'p99 ms', 'max ms', 'server RSS max MiB'], [
        row('baseline: no resumers', baseline),
        row(`**${RESUMERS} resumers that do not read**`, under),
      ]),
      '',
      `Server RSS ${fmt(rssBefore, 0)} MiB before they connected, ${fmt(rssAfter, 0)} MiB at the end (+${fmt(rssAfter - rssBefore, 0)} MiB, ${fmt(((rssAfter - rssBefore) * 1024) / RESUMERS, 0)} KiB per resumer); had each resume been buffered whole, ${RESUMERS} × ${fmt(whole / 2 ** 20, 1)} MiB = ${fmt((RESUMERS * whole) / 2 ** 20, 0)} MiB. ${still} of ${RESUMERS} still connected.`,
      '',
    ].join('\n');
    return { name: 'resumers', markdown, data: { wholeBytes: whole, rssBefore, rssAfter, baseline: { n: baseline.latencies.length, p50: percentile(baseline.latencies, 50), p99: percentile(baseline.latencies, 99), rssMax: Math.max(...baseline.rss) }, under: { n: under.latencies.length, p50: percentile(under.latencies, 50), p99: percentile(under.latencies, 99), rssMax: Math.max(...under.rss) }, still } };
  } finally {
    for (const s of sockets) s.destroy();
    await server.stop();
  }
}
