/**
 * docker-stats: the docker source with 50 running busybox containers (Podman's Docker API service).
 *  - one stats round: the time of `sample()` — every running container's stats, concurrently — in one-shot mode
 *    (a `stream=false` request per container; `one-shot=true` on API ≥ 1.41) and in stream mode (one long stats
 *    stream per container; a round reads the latest frames), median of several rounds;
 *  - the source's own CPU at the production interval of 2 s: process.cpuUsage() of a child process that runs only
 *    the source in a MonitorLoop, minus an idle child measured the same way over the same window (side by side);
 *    the engine's CPU over the window from /proc/<pid>/stat of the Podman service (when test/podman.sh runs it).
 * Needs the engine: ARBITER_TEST_DOCKER_HOST (as `eval "$(test/podman.sh start)"` exports it), else this runs
 * `test/podman.sh start` itself. Containers are labelled arbiter.bench=docker-stats and removed at the end.
 *
 * Standalone: `node --import tsx --import ./bench/compiled.ts bench/docker-stats.ts [--quick]`; from bench/run.ts through `run()`.
 */
import { execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import Docker from 'dockerode';
import { systemClock } from '../server/clock.ts';
import { MonitorLoop } from '../server/monitor/loop.ts';
import { parseDockerHost } from '../server/monitor/sources/docker/connection.ts';
import { apiAtLeast, DockerSource, type StatsMode } from '../server/monitor/sources/docker/docker.ts';
import {
  NODE_TS, clockTicks, fmt, installCleanupHandlers, percentile, procTimes, REPO, sleep, table, track, withTimeout,
  type BenchOptions, type BenchResult,
} from './lib.ts';

export const TARGET_ROUND_MS = 250;
export const TARGET_CPU_PERCENT = 2;
const CONTAINERS = 50;
const LABEL = 'arbiter.bench';
const IMAGE = process.env.ARBITER_TEST_DOCKER_IMAGE ?? 'localhost/busybox:latest';
const INTERVAL_MS = 2000;
const SELF = fileURLToPath(import.meta.url);

interface ChildResult {
  mode: StatsMode | 'idle';
  windowMs: number;
  cpuUs: number;
  cpuPercent: number;
  samplesOk: number;
  samplesFailed: number;
  lastError?: string;
  rssMiB: number;
}

// ---------------------------------------------------------------- child: only the source, in a loop

async function child(mode: StatsMode | 'idle', warmupMs: number, windowMs: number): Promise<void> {
  const host = process.env.ARBITER_TEST_DOCKER_HOST!;
  const loop = new MonitorLoop({ clock: systemClock, timeoutMs: 5000, maxBackoffMs: 10_000 });
  let samplesOk = 0;
  let samplesFailed = 0;
  let lastError: string | undefined;
  if (mode !== 'idle') {
    loop.add(new DockerSource({ dockerHost: host, statsMode: mode }), INTERVAL_MS);
    loop.onAttempt(({ status: s }) => {
      if (s.status === 'ok') samplesOk++;
      else {
        samplesFailed++;
        lastError = s.message;
      }
    });
  }
  await loop.start();
  // keep the process alive (the loop's timers are unref'd)
  const keep = setInterval(() => {}, 1000);
  await sleep(warmupMs);
  const ok0 = samplesOk;
  const failed0 = samplesFailed;
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await sleep(windowMs);
  const c1 = process.cpuUsage(c0);
  const wall = performance.now() - t0;
  clearInterval(keep);
  await loop.stop();
  const cpuUs = c1.user + c1.system;
  const r: ChildResult = {
    mode, windowMs: wall, cpuUs, cpuPercent: (cpuUs / 1000 / wall) * 100,
    samplesOk: samplesOk - ok0, samplesFailed: samplesFailed - failed0, lastError, rssMiB: process.memoryUsage().rss / 2 ** 20,
  };
  process.stdout.write(`${JSON.stringify(r)}\n`);
  process.exit(0);
}

function spawnChild(host: string, mode: StatsMode | 'idle', warmupMs: number, windowMs: number): Promise<ChildResult> {
  const p = track(spawn(process.execPath, [...NODE_TS, SELF, '--child', mode, String(warmupMs), String(windowMs)], {
    cwd: REPO,
    env: { ...process.env, ARBITER_TEST_DOCKER_HOST: host },
    stdio: ['ignore', 'pipe', 'inherit'],
  }));
  let out = '';
  p.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  return withTimeout(new Promise<ChildResult>((resolve, reject) => {
    p.once('exit', (code) => {
      const line = out.trim().split('\n').at(-1);
      if (code === 0 && line) resolve(JSON.parse(line) as ChildResult);
      else reject(new Error(`${mode} child exited with ${code}: ${out.slice(-300)}`));
    });
  }), warmupMs + windowMs + 60_000, `${mode} child`);
}

// ---------------------------------------------------------------- parent

async function engineHost(): Promise<string> {
  if (process.env.ARBITER_TEST_DOCKER_HOST) return process.env.ARBITER_TEST_DOCKER_HOST;
  const { stdout } = await promisify(execFile)(join(REPO, 'test', 'podman.sh'), ['start'], { timeout: 300_000 });
  for (const line of stdout.split('\n')) {
    const m = /^export (\w+)=(.*)$/.exec(line.trim());
    if (m) process.env[m[1]!] = m[2]!;
  }
  if (!process.env.ARBITER_TEST_DOCKER_HOST) throw new Error('test/podman.sh start did not give ARBITER_TEST_DOCKER_HOST');
  return process.env.ARBITER_TEST_DOCKER_HOST;
}

function enginePid(): number | null {
  const dir = process.env.ARBITER_PODMAN_DIR;
  if (!dir) return null;
  try {
    const pid = Number(readFileSync(join(dir, 'podman.pid'), 'utf8').trim());
    procTimes(pid);
    return pid;
  } catch {
    return null;
  }
}

function client(host: string): Docker {
  const t = parseDockerHost(host);
  return t.kind === 'unix' ? new Docker({ socketPath: t.socketPath }) : new Docker({ host: t.host, port: t.port, protocol: t.protocol });
}

async function removeBenchContainers(d: Docker): Promise<void> {
  const list = await d.listContainers({ all: true, filters: { label: [`${LABEL}=docker-stats`] } });
  for (let i = 0; i < list.length; i += 10) {
    await Promise.all(list.slice(i, i + 10).map((c) => d.getContainer(c.Id).remove({ force: true }).catch(() => {})));
  }
}

async function createContainers(d: Docker, n: number): Promise<void> {
  const tag = Date.now().toString(36);
  for (let i = 0; i < n; i += 10) {
    await Promise.all(Array.from({ length: Math.min(10, n - i) }, async (_, k) => {
      const c = await d.createContainer({
        name: `arbiter-bench-${tag}-${i + k}`, Image: IMAGE, Cmd: ['sleep', '3600'],
        Labels: { [LABEL]: 'docker-stats' }, HostConfig: { Memory: 32 * 2 ** 20 },
      });
      await c.start();
    }));
  }
}

function stats(values: number[]): { median: number; p90: number; min: number; max: number } {
  const s = [...values].sort((a, b) => a - b);
  return { median: percentile(s, 50), p90: percentile(s, 90), min: s[0] ?? NaN, max: s.at(-1) ?? NaN };
}

/** Time `rounds` calls of sample(), `gapMs` apart; in stream mode after every stream has delivered a frame. */
async function timeRounds(host: string, mode: StatsMode, rounds: number, gapMs: number): Promise<{ times: number[]; firstFramesMs: number | null; measured: number }> {
  const src = new DockerSource({ dockerHost: host, statsMode: mode });
  try {
    await src.start();
    let firstFramesMs: number | null = null;
    const t0 = performance.now();
    if (mode === 'stream') {
      for (;;) {
        const l = await src.sample();
        const bench = l.filter((c) => c.labels[LABEL] === 'docker-stats');
        if (bench.length >= CONTAINERS && bench.every((c) => c.memoryUsedMiB !== null)) break;
        if (performance.now() - t0 > 30_000) throw new Error('stats streams did not deliver frames within 30 s');
        await sleep(50);
      }
      firstFramesMs = performance.now() - t0;
    } else {
      await src.sample(); // prime: the first round has no previous reading
    }
    const times: number[] = [];
    let measured = 0;
    for (let i = 0; i < rounds; i++) {
      await sleep(gapMs);
      const a = performance.now();
      const l = await src.sample();
      times.push(performance.now() - a);
      measured = l.filter((c) => c.labels[LABEL] === 'docker-stats' && c.cpuPercent !== null).length;
    }
    return { times, firstFramesMs, measured };
  } finally {
    await src.stop();
  }
}

export async function run(o: BenchOptions): Promise<BenchResult> {
  installCleanupHandlers();
  const host = await engineHost();
  const d = client(host);
  const version = await d.version();
  const engine = `${(version.Components ?? []).map((c) => `${c.Name} ${c.Version}`)[0] ?? `Docker ${version.Version}`} (API ${version.ApiVersion})`;
  const rounds = o.quick ? 5 : 9;
  const warmupMs = o.quick ? 6_000 : 8_000;
  const windowMs = o.quick ? 12_000 : 30_000;
  await removeBenchContainers(d);
  const tc0 = performance.now();
  try {
    await createContainers(d, CONTAINERS);
    const createS = (performance.now() - tc0) / 1000;

    const oneShot = await timeRounds(host, 'one-shot', rounds, 1000);
    const stream = await timeRounds(host, 'stream', rounds, 1000);

    // CPU: each mode side by side with an idle child of the same code, over the same window
    const pid = enginePid();
    const tck = clockTicks();
    const cpu: Record<StatsMode, { mode: ChildResult; idle: ChildResult; engine: number | null }> = {} as never;
    for (const mode of ['one-shot', 'stream'] as const) {
      const e0 = pid ? procTimes(pid).self : 0;
      const [m, idle] = await Promise.all([spawnChild(host, mode, warmupMs, windowMs), spawnChild(host, 'idle', warmupMs, windowMs)]);
      // the engine's window is the children's whole life (warm-up included): scale by it
      const e1 = pid ? procTimes(pid).self : 0;
      const engineWallS = (warmupMs + windowMs) / 1000 + 1.5;
      cpu[mode] = { mode: m, idle, engine: pid ? ((e1 - e0) / tck / engineWallS) * 100 : null };
    }

    const rows = (['one-shot', 'stream'] as const).map((mode) => {
      const r = mode === 'one-shot' ? oneShot : stream;
      const s = stats(r.times);
      const c = cpu[mode];
      const net = c.mode.cpuPercent - c.idle.cpuPercent;
      return [
        mode, `**${fmt(s.median, 1)}**`, fmt(s.p90, 1), `${fmt(s.min, 1)}–${fmt(s.max, 1)}`, `${r.measured}/${CONTAINERS}`,
        r.firstFramesMs === null ? '–' : fmt(r.firstFramesMs, 0),
        fmt(c.mode.cpuPercent, 2), fmt(c.idle.cpuPercent, 2), `**${fmt(net, 2)}**`,
        `${c.mode.samplesOk}/${c.mode.samplesOk + c.mode.samplesFailed}`, c.engine === null ? '–' : fmt(c.engine, 1), fmt(c.mode.rssMiB, 0),
      ];
    });
    const roundOk = (['one-shot', 'stream'] as const).every((m) => stats((m === 'one-shot' ? oneShot : stream).times).median <= TARGET_ROUND_MS);
    const cpuOk = (['one-shot', 'stream'] as const).every((m) => cpu[m].mode.cpuPercent - cpu[m].idle.cpuPercent <= TARGET_CPU_PERCENT);
    const markdown = [
      '## docker-stats',
      '',
      `The docker source with ${CONTAINERS} running busybox \`sleep\` containers on ${engine}, at ${host}. `
      + `A round is one \`sample()\`: the stats of every running container, concurrently (one-shot: one \`stream=false\` request each`
      + `${apiNote(version.ApiVersion)}; stream: one long stats stream per container, the round reads their latest frames); `
      + `${rounds} rounds 1 s apart after a priming one. CPU: process.cpuUsage() of a child process running only the source in a `
      + `MonitorLoop at ${INTERVAL_MS / 1000} s, over ${fmt(windowMs / 1000, 0)} s after a ${fmt(warmupMs / 1000, 0)} s warm-up, minus an idle child `
      + `(same imports, no source) measured side by side. Engine CPU: the Podman service process (/proc/<pid>/stat) over the children's life. `
      + `Creating and starting the ${CONTAINERS} containers took ${fmt(createS, 1)} s.`,
      '',
      `Targets: round ≤ ${TARGET_ROUND_MS} ms — **${roundOk ? 'met' : 'missed'}**; source CPU ≤ ${TARGET_CPU_PERCENT} % of one core — **${cpuOk ? 'met' : 'missed'}**.`,
      '',
      table(['mode', 'round median ms', 'p90 ms', 'min–max ms', 'containers with CPU %', 'all streams first frame ms', 'source process CPU %', 'idle process CPU %', 'source CPU % (net)', 'samples ok', 'engine CPU %', 'source RSS MiB'], rows),
      '',
    ].join('\n');
    return { name: 'docker-stats', markdown, data: { host, engine, oneShot, stream, cpu } };
  } finally {
    await removeBenchContainers(d);
  }
}

function apiNote(api: string | undefined): string {
  if (!api) return '';
  return apiAtLeast(api, '1.41') ? `, with \`one-shot=true\` as the API is ${api} (Podman ignores it)` : ` (API ${api} < 1.41: no \`one-shot\`)`;
}

// ---------------------------------------------------------------- entry

const argv = process.argv.slice(2);
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  if (argv[0] === '--child') {
    await child(argv[1] as StatsMode | 'idle', Number(argv[2]), Number(argv[3]));
  } else {
    const r = await run({ quick: argv.includes('--quick') });
    process.stdout.write(`${r.markdown}\n`);
    process.exit(0);
  }
}
