/**
 * Soak with faults: `npm run soak -- --minutes N [--kill-every M] [--out file.json]` (not in CI, not in `npm run bench`).
 *
 * The compiled server (`bin/arbiter.js serve`) runs on one data dir and port for N minutes with the GPU source on the
 * nvidia-smi stand-in and the docker source on a private Podman service (test/podman.sh, two busybox containers).
 * Meanwhile:
 *  - load: submits (each with an Idempotency-Key, retried with the same key until answered), and for each request,
 *    a few seconds later, the release of its allocation or the cancel of the still-queued request;
 *  - clients: SSE, socket.io and plain WebSocket clients of `scheduling_update` and `conflict` that reconnect and
 *    resume from the last id they read, when the server goes away and now and then of their own accord;
 *  - faults: the nvidia-smi children of the server are killed (SIGKILL, by pid), the Podman service is stopped and
 *    started again, and the server is `kill -9`ed every M minutes during the first half and started again at once
 *    (the second half without kills, so that one process lives long enough to show whether its memory grows).
 * At the end (server stopped), from its database: every acknowledged submit stored, every acknowledged release and
 * cancel stored as such; per client, the archived events of its types between the first and last id it read against
 * what it read (lost, duplicated, read but not archived); RSS over each process's life; each restart's recovery time.
 * Prints a markdown report; `--out` writes the figures as JSON.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import http, { Agent } from 'node:http';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { io, type Socket } from 'socket.io-client';
import { WebSocket } from 'ws';
import {
  REPO, childProcesses, cleanupSync, fmt, installCleanupHandlers, percentile, sleep, spawnServer, table, tempDir,
  type ServerProcess,
} from './lib.ts';

const { values: args } = parseArgs({
  options: {
    minutes: { type: 'string', default: '60' },
    'kill-every': { type: 'string', default: '5' },
    'smi-every': { type: 'string', default: '90' },
    'docker-every': { type: 'string', default: '420' },
    'submits-per-s': { type: 'string', default: '5' },
    clients: { type: 'string', default: '3' },
    out: { type: 'string' },
  },
});
const MINUTES = Number(args.minutes);
const KILL_EVERY_MS = Number(args['kill-every']) * 60_000;
const SMI_EVERY_MS = Number(args['smi-every']) * 1000;
const DOCKER_EVERY_MS = Number(args['docker-every']) * 1000;
const SUBMITS_PER_S = Number(args['submits-per-s']);
const CLIENTS_PER_TRANSPORT = Number(args.clients);
const TYPES = ['scheduling_update', 'conflict'] as const;
const PODMAN = join(REPO, 'test/podman.sh');
const STAND_IN = join(REPO, 'test/stand-ins/nvidia-smi');
const FIXTURE = join(REPO, 'test/fixtures/nvidia-smi/nvidia_gpu_exporter-h100-mig-590.48.01-capture.txt');

const t0 = Date.now();
const since = () => Date.now() - t0;
const say = (s: string) => process.stderr.write(`[soak ${fmt(since() / 60_000, 1)} min] ${s}\n`);

// ---------------------------------------------------------------- the server, its lives and their RSS

interface Life { startedAt: number; pid: number; upMs: number; endedAt?: number; how?: 'kill -9' | 'stop'; rss: [number, number][]; firstAckAfterMs?: number }
const lives: Life[] = [];
// kept when the soak fails, to look into (removed at the end of a run that reports)
const dataDir = mkdtempSync(join(tmpdir(), 'arbiter-soak-'));
const podmanDir = tempDir('arbiter-soak-podman-');
let port = 0;
let server: ServerProcess | undefined;
let dockerHost = '';

async function startServer(): Promise<void> {
  const startedAt = since();
  const portArgs = port ? ['--port', String(port)] : [];
  server = await spawnServer(['--config', join(dataDir, 'config.json'), ...portArgs, '--nvidia-smi', STAND_IN, '--docker-host', dockerHost, '--no-web-build'],
    120_000, [], { dataDir, env: { NVIDIA_SMI_FIXTURE: FIXTURE } });
  port = Number(new URL(server.url).port);
  lives.push({ startedAt, pid: server.pid, upMs: since() - startedAt, rss: [] });
}

function rssMiB(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

// ---------------------------------------------------------------- HTTP with retries across restarts

const agent = new Agent({ keepAlive: true, maxSockets: 16 });
function call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; json: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method, agent, timeout: 10_000, headers: { authorization: `Bearer ${server!.token}`, 'content-type': 'application/json', ...headers } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => {
        try {
          resolve({ status: res.statusCode!, json: text ? (JSON.parse(text) as Record<string, unknown>) : {} });
        } catch (e) {
          reject(e as Error);
        }
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

/** Retried (same method, path, body and headers) while the server cannot answer: down, restarting, 5xx. */
async function callRetried(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<{ status: number; json: Record<string, unknown> }> {
  const giveUp = Date.now() + 120_000;
  for (;;) {
    try {
      const r = await call(method, path, body, headers);
      if (r.status < 500 && r.status !== 429) return r;
    } catch {
      // down or cut off: the same call again
    }
    if (Date.now() > giveUp) throw new Error(`${method} ${path}: no answer for 120 s`);
    await sleep(250);
  }
}

// ---------------------------------------------------------------- load: submits, releases, cancels

const acked = { submits: new Map<string, string>(), released: new Set<string>(), cancelled: new Set<string>(), replayed: 0, refusedRelease: 0, unexpected: [] as string[] };
let running = true;
let inFlight = 0;

async function oneRequest(i: number): Promise<void> {
  inFlight++;
  try {
    const key = `soak-${t0}-${i}`;
    const body = { owner: `soak${i % 7}`, priority: 1 + (i % 9), resources: { cpu: 500 + (i % 4) * 500, memoryMiB: 256 }, labels: { soak: String(i) } };
    const r = await callRetried('POST', '/api/requests', body, { 'idempotency-key': key });
    if (r.status !== 201 && r.status !== 202) return void acked.unexpected.push(`submit ${r.status} ${JSON.stringify(r.json).slice(0, 200)}`);
    const request = r.json.request as { id: string };
    if (r.json.replayed) acked.replayed++;
    acked.submits.set(request.id, key);
    if (since() > runMs) return;
    await sleep(2000 + ((i * 7919) % 10_000));
    const now = await callRetried('GET', `/api/requests/${request.id}`);
    const req = now.json as { status?: string; allocationId?: string };
    if (req.status === 'granted' && req.allocationId) {
      const rel = await callRetried('DELETE', `/api/allocations/${req.allocationId}`);
      if (rel.status === 200) acked.released.add(request.id);
      else acked.refusedRelease++; // 409: it ended meanwhile (expired, preempted) — or the release before a kill took
    } else if (req.status === 'queued') {
      const c = await callRetried('DELETE', `/api/requests/${request.id}`);
      if (c.status === 200 && (c.json as { status?: string }).status === 'cancelled') acked.cancelled.add(request.id);
      else if (c.status === 200 && (c.json as { status?: string }).status === 'granted') {
        // granted between the read and the cancel? a cancel of a granted request releases it: either way it ends
      }
    }
  } catch (e) {
    acked.unexpected.push(String(e));
  } finally {
    inFlight--;
  }
}

async function load(): Promise<void> {
  let i = 0;
  while (running && since() < runMs) {
    if (inFlight < 400) void oneRequest(i++);
    await sleep(1000 / SUBMITS_PER_S);
  }
}

// ---------------------------------------------------------------- push clients that resume

interface Client { name: string; ids: number[]; reconnects: number; last(): number; stop(): void }

function clientRecord(name: string): Omit<Client, 'stop'> {
  const c = { name, ids: [] as number[], reconnects: 0, last: () => c.ids.at(-1) ?? -1 };
  return c;
}

function sseClient(n: number): Client {
  const c = clientRecord(`sse-${n}`);
  let req: http.ClientRequest | undefined;
  let stopped = false;
  const connect = () => {
    if (stopped) return;
    const last = c.last();
    req = http.get({ host: '127.0.0.1', port, path: `/api/events?types=${TYPES.join(',')}`, headers: { authorization: `Bearer ${server!.token}`, ...(last >= 0 ? { 'last-event-id': String(last) } : {}) } }, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        return;
      }
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (s: string) => {
        buf += s;
        let end;
        while ((end = buf.indexOf('\n\n')) >= 0) {
          const frame = buf.slice(0, end);
          buf = buf.slice(end + 2);
          const id = /^id: ?(\d+)$/m.exec(frame);
          if (id && /^event: ?(scheduling_update|conflict)$/m.test(frame)) c.ids.push(Number(id[1]));
        }
      });
    });
    req.on('error', () => {});
    req.on('close', () => {
      if (stopped) return;
      c.reconnects++;
      setTimeout(connect, 500);
    });
  };
  connect();
  const own = setInterval(() => req?.destroy(), 45_000 + n * 7000);
  return Object.assign(c, { stop() { stopped = true; clearInterval(own); req?.destroy(); } });
}

function ioClient(n: number): Client {
  const c = clientRecord(`socket.io-${n}`);
  const socket: Socket = io(`http://127.0.0.1:${port}`, {
    transports: ['websocket'], reconnectionDelay: 500, reconnectionDelayMax: 2000,
    auth: (cb) => cb({ token: server!.token, types: [...TYPES], ...(c.last() >= 0 ? { lastEventId: c.last() } : {}) }),
  });
  for (const t of TYPES) socket.on(t, (env: { id: number }) => c.ids.push(env.id));
  socket.on('disconnect', () => c.reconnects++);
  const own = setInterval(() => {
    socket.disconnect();
    setTimeout(() => socket.connect(), 500);
  }, 50_000 + n * 7000);
  return Object.assign(c, { stop() { clearInterval(own); socket.disconnect(); } });
}

function wsClient(n: number): Client {
  const c = clientRecord(`ws-${n}`);
  let ws: WebSocket | undefined;
  let stopped = false;
  const connect = () => {
    if (stopped) return;
    const last = c.last();
    ws = new WebSocket(`ws://127.0.0.1:${port}/api/ws?types=${TYPES.join(',')}${last >= 0 ? `&lastEventId=${last}` : ''}`, { headers: { authorization: `Bearer ${server!.token}` } });
    ws.on('message', (m) => {
      const env = JSON.parse(String(m)) as { id?: number; type?: string };
      if (env.id !== undefined && (TYPES as readonly string[]).includes(env.type ?? '')) c.ids.push(env.id);
    });
    ws.on('error', () => {});
    ws.on('close', () => {
      if (stopped) return;
      c.reconnects++;
      setTimeout(connect, 500);
    });
  };
  connect();
  const own = setInterval(() => ws?.terminate(), 55_000 + n * 7000);
  return Object.assign(c, { stop() { stopped = true; clearInterval(own); ws?.terminate(); } });
}

// ---------------------------------------------------------------- faults

const faults = { smiKilled: 0, dockerStops: 0, kills: 0 };

function podman(cmd: string): string {
  return execFileSync(PODMAN, [cmd], { env: { ...process.env, ARBITER_PODMAN_DIR: podmanDir }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function killSmiChildren(): number {
  if (!server) return 0;
  let n = 0;
  for (const [pid] of childProcesses(server.pid)) {
    let cmd = '';
    try {
      cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    } catch {
      continue;
    }
    if (!cmd.includes('nvidia-smi')) continue;
    try {
      process.kill(pid, 'SIGKILL');
      n++;
    } catch {
      // ended meanwhile
    }
  }
  return n;
}

async function killAndRestart(): Promise<void> {
  const life = lives.at(-1)!;
  const killedAt = since();
  server!.child.kill('SIGKILL');
  await new Promise<void>((r) => (server!.child.exitCode !== null || server!.child.signalCode !== null ? r() : server!.child.once('exit', () => r())));
  life.endedAt = killedAt;
  life.how = 'kill -9';
  faults.kills++;
  await startServer();
  const next = lives.at(-1)!;
  // recovery: kill → the first acknowledged submit of the new process
  const before = acked.submits.size;
  while (acked.submits.size === before && since() - killedAt < 120_000) await sleep(20);
  next.firstAckAfterMs = since() - killedAt;
  say(`killed -9 and restarted: up in ${fmt(next.upMs / 1000, 2)} s, first acknowledged submit ${fmt(next.firstAckAfterMs / 1000, 2)} s after the kill`);
}

// ---------------------------------------------------------------- the run

const runMs = MINUTES * 60_000;

async function main(): Promise<void> {
  installCleanupHandlers();
  writeFileSync(join(dataDir, 'config.json'), JSON.stringify({ resources: { cpu: 16_000, memoryMiB: 65_536, gpus: [] } }));
  dockerHost = podman('start').match(/ARBITER_TEST_DOCKER_HOST=(\S+)/)![1]!;
  const containers: string[] = [];
  const podmanEnv = { ...process.env, CONTAINERS_CONF: join(podmanDir, 'containers.conf') };
  for (let k = 0; k < 2; k++) {
    containers.push(execFileSync('podman', ['run', '-d', '--label', 'arbiter.soak=1', 'localhost/busybox:latest', 'sleep', '100000'], { env: podmanEnv, encoding: 'utf8' }).trim());
  }
  await startServer();
  say(`server up on port ${port} (pid ${server!.pid}); ${MINUTES} min`);
  const clients: Client[] = [];
  for (let n = 0; n < CLIENTS_PER_TRANSPORT; n++) clients.push(sseClient(n), ioClient(n), wsClient(n));
  const loadDone = load();

  const killsUntil = runMs / 2;
  let nextKill = KILL_EVERY_MS;
  let nextSmi = SMI_EVERY_MS;
  let nextDocker = DOCKER_EVERY_MS;
  let dockerBackAt = Infinity;
  while (since() < runMs) {
    await sleep(1000);
    const life = lives.at(-1)!;
    if (Math.floor(since() / 5000) !== Math.floor((since() - 1000) / 5000)) life.rss.push([since(), rssMiB(life.pid)]);
    if (since() >= nextSmi) {
      nextSmi += SMI_EVERY_MS;
      const n = killSmiChildren();
      faults.smiKilled += n;
      say(`killed ${n} nvidia-smi children`);
    }
    if (since() >= nextDocker) {
      nextDocker += DOCKER_EVERY_MS;
      podman('stop');
      faults.dockerStops++;
      dockerBackAt = since() + 30_000;
      say('stopped the Podman service (back in 30 s)');
    }
    if (since() >= dockerBackAt) {
      dockerBackAt = Infinity;
      podman('start');
      say('started the Podman service again');
    }
    if (since() >= nextKill && nextKill <= killsUntil) {
      nextKill += KILL_EVERY_MS;
      await killAndRestart();
    }
  }
  running = false;
  await loadDone;
  say(`load stopped; waiting for ${inFlight} requests in flight`);
  while (inFlight > 0) await sleep(100);
  await sleep(3000); // the last events reach the clients
  for (const c of clients) c.stop();
  const life = lives.at(-1)!;
  life.endedAt = since();
  life.how = 'stop';
  const pid = server!.pid;
  await new Promise<void>((resolve) => {
    server!.child.once('exit', () => resolve());
    server!.child.kill('SIGTERM');
  });
  say(`server ${pid} stopped`);
  if (dockerBackAt !== Infinity) podman('start');
  execFileSync('podman', ['rm', '-f', '-t', '0', ...containers], { env: podmanEnv, stdio: 'ignore' });
  podman('stop');
  agent.destroy();
  report(clients);
}

// ---------------------------------------------------------------- the verdict, from the database

function report(clients: Client[]): void {
  const db = new Database(join(dataDir, 'arbiter.db'), { readonly: true });
  const status = new Map<string, string>();
  for (const r of db.prepare('SELECT id, status FROM requests').all() as { id: string; status: string }[]) status.set(r.id, r.status);
  const lostSubmits = [...acked.submits.keys()].filter((id) => !status.has(id));
  const lostReleases = [...acked.released].filter((id) => status.get(id) !== 'released');
  const lostCancels = [...acked.cancelled].filter((id) => status.get(id) !== 'cancelled');
  const archived = new Map<number, string>();
  for (const e of db.prepare(`SELECT id, type FROM events WHERE type IN (${TYPES.map(() => '?').join(',')})`).all(...TYPES) as { id: number; type: string }[]) archived.set(e.id, e.type);
  db.close();

  const perClient = clients.map((c) => {
    const got = new Set(c.ids);
    // (a loop: spreading a 100,000-id array into Math.min overflows the stack)
    let first = Infinity;
    let last = -1;
    for (const id of c.ids) {
      if (id < first) first = id;
      if (id > last) last = id;
    }
    let expected = 0;
    let lost = 0;
    for (const id of archived.keys()) {
      if (id < first || id > last) continue;
      expected++;
      if (!got.has(id)) lost++;
    }
    const notArchived = [...got].filter((id) => !archived.has(id)).length;
    return { name: c.name, received: c.ids.length, expected, lost, duplicated: c.ids.length - got.size, notArchived, reconnects: c.reconnects };
  });

  const rssRows = lives.map((l, k) => {
    const life = (l.endedAt ?? since()) - l.startedAt;
    const after5 = l.rss.filter(([t]) => t - l.startedAt >= 5 * 60_000);
    const at5 = after5[0]?.[1];
    const end = l.rss.at(-1)?.[1];
    const max = Math.max(...l.rss.map(([, v]) => v));
    const growth = at5 !== undefined && end !== undefined && life >= 10 * 60_000 ? ((end - at5) / at5) * 100 : NaN;
    return { life: k + 1, startedMin: l.startedAt / 60_000, minutes: life / 60_000, how: l.how, upS: l.upMs / 1000, firstAckS: (l.firstAckAfterMs ?? NaN) / 1000, rssAt5: at5, rssEnd: end, rssMax: max, growthPct: growth };
  });
  const recoveries = rssRows.slice(1).map((r) => r.firstAckS).sort((a, b) => a - b);
  const figures = {
    minutes: MINUTES, faults, submitsPerS: SUBMITS_PER_S,
    acknowledged: { submits: acked.submits.size, replayed: acked.replayed, released: acked.released.size, cancelled: acked.cancelled.size, releaseRefused: acked.refusedRelease },
    stored: { submits: acked.submits.size - lostSubmits.length, released: acked.released.size - lostReleases.length, cancelled: acked.cancelled.size - lostCancels.length },
    lost: { submits: lostSubmits.length, releases: lostReleases.length, cancels: lostCancels.length },
    unexpected: acked.unexpected.slice(0, 20), unexpectedCount: acked.unexpected.length,
    clients: perClient, lives: rssRows, rssSeries: lives.map((l) => l.rss.filter((_, k) => k % 12 === 0)),
    recoveryS: { p50: percentile(recoveries, 50), max: recoveries.at(-1) ?? NaN },
  };
  if (args.out) writeFileSync(args.out, `${JSON.stringify(figures, null, 1)}\n`);
  const md = [
    `### Soak: ${MINUTES} min, ${faults.kills} × kill -9, ${faults.dockerStops} Podman stops, ${faults.smiKilled} nvidia-smi children killed`,
    '',
    table(['', 'acknowledged', 'stored', 'lost'], [
      ['submits', acked.submits.size, figures.stored.submits, lostSubmits.length],
      ['releases', acked.released.size, figures.stored.released, lostReleases.length],
      ['cancels', acked.cancelled.size, figures.stored.cancelled, lostCancels.length],
    ]),
    '',
    `Submits answered from the idempotency key after a cut-off retry: ${acked.replayed}. Releases refused (409: already ended): ${acked.refusedRelease}. Unexpected answers or errors: ${acked.unexpected.length}${acked.unexpected.length ? ` (first: ${acked.unexpected[0]})` : ''}.`,
    '',
    table(['client', 'events read', 'archived in its range', 'lost', 'duplicated', 'read, not archived', 'reconnects'],
      perClient.map((c) => [c.name, c.received, c.expected, c.lost, c.duplicated, c.notArchived, c.reconnects])),
    '',
    table(['life', 'started (min)', 'minutes', 'ended by', 'up after start (s)', 'kill → first acknowledged submit (s)', 'RSS at 5 min (MiB)', 'RSS at end', 'RSS max', 'growth after 5 min'],
      rssRows.map((r) => [r.life, fmt(r.startedMin, 1), fmt(r.minutes, 1), r.how ?? '', fmt(r.upS, 2), fmt(r.firstAckS, 2), fmt(r.rssAt5 ?? NaN, 0), fmt(r.rssEnd ?? NaN, 0), fmt(r.rssMax, 0), Number.isFinite(r.growthPct) ? `${fmt(r.growthPct, 1)} %` : '– (life < 10 min)'])),
  ].join('\n');
  process.stdout.write(`${md}\n`);
}

main().then(() => {
  cleanupSync();
  rmSync(dataDir, { recursive: true, force: true });
  process.exit(0);
}, (e: unknown) => {
  process.stderr.write(`soak failed: ${(e as Error).stack ?? String(e)}\nits data dir is kept: ${dataDir}\n`);
  cleanupSync();
  process.exit(1);
});
