/**
 * gpu-cpu: the server's own CPU with the gpu source at 1 s beside the host source (issue 3), against the looping
 * nvidia-smi stand-in (test/stand-ins/nvidia-smi answering from the H100 MIG capture), and the number of
 * nvidia-smi processes it spawns. Two real CLI servers side by side over the same window, measured like
 * monitor-cpu (/proc/<pid>/stat of the server process, all threads; one socket.io client each):
 *   gpu       `--nvidia-smi <stand-in> --gpu-interval-ms 1000 --no-docker --no-web-build`
 *   baseline  `--no-gpu --no-docker --no-web-build`
 * The stand-in children (node processes: the two loops, help and `-q -x` runs) are measured apart (live ones by
 * their own ticks, reaped ones through the server's cutime+cstime): their cost is the stand-in's, a real
 * nvidia-smi's differs. Spawns: every stand-in invocation appends its arguments to NVIDIA_SMI_LOG; counted by kind.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Socket } from 'socket.io-client';
import type { ClientToServerEvents, ServerToClientEvents } from '../shared/events.ts';
import {
  REPO, childProcesses, clockTicks, connectStatusClient, fmt, procTimes, sleep, spawnServer, table, tempDir, threadTimes,
  type BenchOptions, type BenchResult, type ServerProcess,
} from './lib.ts';

export const TARGET_PERCENT = 1;
const STAND_IN = join(REPO, 'test/stand-ins/nvidia-smi');
const FIXTURE = join(REPO, 'test/fixtures/nvidia-smi/nvidia_gpu_exporter-h100-mig-590.48.01-capture.txt');
const SEGMENTS = 4;

interface Running {
  label: string;
  server: ServerProcess;
  client: Socket<ServerToClientEvents, ClientToServerEvents>;
  /** resource_status events received so far */
  events: () => number;
  startedAt: number;
}

async function start(label: string, args: string[], env: Record<string, string> = {}): Promise<Running> {
  const startedAt = performance.now();
  const server = await spawnServer(['--no-docker', '--no-web-build', ...args], 120_000, [], { env });
  const { client, events } = await connectStatusClient(server);
  return { label, server, client, events, startedAt };
}

/** One stand-in invocation's kind, from its arguments. */
function kindOf(args: string): string {
  if (args.includes('--query-gpu=')) return 'gpu loop (--query-gpu … -lms)';
  if (args.includes('--query-compute-apps=')) return 'apps loop (--query-compute-apps … -l)';
  if (args.includes('--help-query-gpu')) return 'help (--help-query-gpu)';
  if (/(^| )-q( |$)/.test(args) && args.includes('-x')) return 'inventory (-q -x)';
  return `other (${args})`;
}

function countKinds(lines: string[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const l of lines) out.set(kindOf(l), (out.get(kindOf(l)) ?? 0) + 1);
  return out;
}

/** Live children of `pid` split into the nvidia-smi stand-ins and the rest (tsx's esbuild service, when the server runs from sources), by command line. */
function children(pid: number): { smi: Map<number, { comm: string; ticks: number }>; other: Map<number, { comm: string; ticks: number }> } {
  const smi = new Map<number, { comm: string; ticks: number }>();
  const other = new Map<number, { comm: string; ticks: number }>();
  for (const [cpid, info] of childProcesses(pid)) {
    let cmd = '';
    try {
      cmd = readFileSync(`/proc/${cpid}/cmdline`, 'utf8');
    } catch {
      // ended
    }
    (cmd.includes('nvidia-smi') ? smi : other).set(cpid, info);
  }
  return { smi, other };
}

interface Measured {
  label: string;
  windowS: number;
  ticks: number;
  cpuPercent: number;
  segments: number[];
  lastHalfPercent: number;
  mainTicks: number;
  otherTicks: number;
  childTicks: number;
  childPercent: number;
  liveChildren: string[];
  /** other live children (tsx's esbuild service, when the server runs from sources): ticks in the window */
  otherChildTicks: number;
  events: number;
  rssMiB: number;
}

export async function run(opts: BenchOptions): Promise<BenchResult> {
  const warmupMs = opts.quick ? 3000 : 5000;
  const windowMs = opts.quick ? 12_000 : 60_000;
  const logDir = tempDir('arbiter-bench-smi-');
  const log = join(logDir, 'nvidia-smi.log');
  const readLog = () => {
    try {
      return readFileSync(log, 'utf8').split('\n').filter(Boolean);
    } catch {
      return [];
    }
  };
  const started = await Promise.allSettled([
    start('gpu source at 1 s + host source', ['--nvidia-smi', STAND_IN, '--gpu-interval-ms', '1000'], { NVIDIA_SMI_FIXTURE: FIXTURE, NVIDIA_SMI_LOG: log }),
    start('baseline: --no-gpu (host source only)', ['--no-gpu']),
  ]);
  const running = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  let measured: Measured[];
  let spawnsAtStart: Map<string, number>;
  let spawnsAtEnd: Map<string, number>;
  let totalAtEnd: number;
  let gpuHealth: unknown;
  let gpuCount: number | null = null;
  let windowStartAfterS: number;
  try {
    const failure = started.find((r) => r.status === 'rejected');
    if (failure) throw (failure as PromiseRejectedResult).reason;
    await sleep(warmupMs);
    const tck = clockTicks();
    const gpu = running[0]!;
    windowStartAfterS = (performance.now() - gpu.startedAt) / 1000;
    const startLines = readLog().length;
    spawnsAtStart = countKinds(readLog());
    const t0 = running.map((r) => procTimes(r.server.pid));
    const th0 = running.map((r) => threadTimes(r.server.pid));
    const alive0 = running.map((r) => children(r.server.pid));
    const e0 = running.map((r) => r.events());
    const w0 = performance.now();
    const marks: number[][] = [t0.map((t) => t.self)];
    const at = [w0];
    for (let k = 1; k <= SEGMENTS; k++) {
      await sleep(w0 + (windowMs / SEGMENTS) * k - performance.now());
      marks.push(running.map((r) => procTimes(r.server.pid).self));
      at.push(performance.now());
    }
    const secs = (at[SEGMENTS]! - at[0]!) / 1000;
    const lines = readLog();
    totalAtEnd = lines.length;
    spawnsAtEnd = countKinds(lines.slice(startLines));
    spawnsAtEnd.set('__all', lines.length);
    measured = running.map((r, i) => {
      const t1 = procTimes(r.server.pid);
      const alive1 = children(r.server.pid);
      // reaped children (help, -q -x runs) through cutime+cstime, live stand-ins (the loops) by their own ticks
      let childTicks = t1.children - t0[i]!.children;
      for (const [pid, info] of alive1.smi) childTicks += info.ticks - (alive0[i]!.smi.get(pid)?.ticks ?? 0);
      let otherChildTicks = 0;
      for (const [pid, info] of alive1.other) otherChildTicks += info.ticks - (alive0[i]!.other.get(pid)?.ticks ?? 0);
      let mainTicks = 0;
      let otherTicks = 0;
      for (const [key, ticks] of threadTimes(r.server.pid)) {
        const d = ticks - (th0[i]!.get(key) ?? 0);
        if (Number(key.slice(0, key.indexOf(':'))) === r.server.pid) mainTicks += d;
        else otherTicks += d;
      }
      const ticks = marks[SEGMENTS]![i]! - marks[0]![i]!;
      const half = SEGMENTS / 2;
      return {
        label: r.label,
        windowS: secs,
        ticks,
        cpuPercent: (ticks / tck / secs) * 100,
        segments: marks.slice(1).map((m, k) => m[i]! - marks[k]![i]!),
        lastHalfPercent: ((marks[SEGMENTS]![i]! - marks[half]![i]!) / tck / ((at[SEGMENTS]! - at[half]!) / 1000)) * 100,
        mainTicks,
        otherTicks,
        childTicks,
        childPercent: (childTicks / tck / secs) * 100,
        liveChildren: [...alive1.smi.values()].map((c) => c.comm),
        otherChildTicks,
        events: r.events() - e0[i]!,
        rssMiB: (t1.rssPages * 4096) / 2 ** 20,
      };
    });
    const h = await fetch(`${gpu.server.url}/api/health`, { headers: { authorization: `Bearer ${gpu.server.token}` } }).then((res) => res.json() as Promise<{ sources?: Record<string, unknown> }>);
    gpuHealth = h.sources?.gpu ?? h.sources;
    const status = await fetch(`${gpu.server.url}/api/status`, { headers: { authorization: `Bearer ${gpu.server.token}` } })
      .then((res) => res.json() as Promise<{ gpus?: unknown[] }>);
    gpuCount = Array.isArray(status.gpus) ? status.gpus.length : null;
  } finally {
    for (const r of running) r.client.disconnect();
    await Promise.all(running.map((r) => r.server.stop()));
  }
  const [g, b] = measured as [Measured, Measured];
  const segS = windowMs / SEGMENTS / 1000;
  const row = (m: Measured) => [
    m.label, String(m.ticks), `**${fmt(m.cpuPercent, 2)}**`, fmt(m.lastHalfPercent, 2), m.segments.join(' / '), `${m.mainTicks} / ${m.otherTicks}`,
    `${fmt(m.childPercent, 2)} (${m.childTicks} ticks)`, m.liveChildren.length ? `${m.liveChildren.length} (${[...new Set(m.liveChildren)].join(', ')})` : 'none', String(m.otherChildTicks),
    String(m.events), fmt(m.rssMiB, 0),
  ];
  const diff = g.cpuPercent - b.cpuPercent;
  const kinds = [...new Set([...spawnsAtStart.keys(), ...spawnsAtEnd.keys()])].filter((k) => k !== '__all');
  const total = spawnsAtEnd.get('__all') ?? 0;
  const longLived = ['help (--help-query-gpu)', 'gpu loop (--query-gpu … -lms)', 'apps loop (--query-compute-apps … -l)'];
  const perSecondSpawns = kinds.filter((k) => !longLived.includes(k) && k !== 'inventory (-q -x)').reduce((n, k) => n + (spawnsAtEnd.get(k) ?? 0), 0);
  const loopRestarts = ['gpu loop (--query-gpu … -lms)', 'apps loop (--query-compute-apps … -l)'].reduce((n, k) => n + (spawnsAtEnd.get(k) ?? 0), 0);
  const spawnVerdict = (spawnsAtStart.get('help (--help-query-gpu)') ?? 0) + (spawnsAtEnd.get('help (--help-query-gpu)') ?? 0) === 1 && loopRestarts === 0 && perSecondSpawns === 0;
  const markdown = [
    '## gpu-cpu',
    '',
    `Two real CLI servers side by side, both \`--no-docker --no-web-build\` with the host source at 1 s and one socket.io client (resource_status): `
    + `one with the gpu source at 1 s (\`--nvidia-smi test/stand-ins/nvidia-smi --gpu-interval-ms 1000\`, NVIDIA_SMI_FIXTURE = the H100 MIG capture, so MIG mode: \`-q -x\` every 10 s), one \`--no-gpu\`. `
    + `Server CPU: utime+stime of the server process (all threads) from /proc/<pid>/stat over ${fmt(windowMs / 1000, 0)} s after a ${fmt(warmupMs / 1000, 0)} s warm-up (window from ${fmt(windowStartAfterS!, 0)} s after the spawn), in ${SEGMENTS} segments of ${fmt(segS, 0)} s; `
    + `"last half" = the second ${fmt(windowMs / 2000, 0)} s. Stand-in children (node processes) apart: live ones by their own ticks, reaped ones through cutime+cstime.`,
    '',
    `Target ≤ ${TARGET_PERCENT} % of one core for the server with the gpu source: **${g.cpuPercent <= TARGET_PERCENT ? 'meets' : 'misses'}** (${fmt(g.cpuPercent, 2)} %; last half ${fmt(g.lastHalfPercent, 2)} %). `
    + `The gpu source's share (difference to the baseline): ${fmt(diff, 2)} % (last half ${fmt(g.lastHalfPercent - b.lastHalfPercent, 2)} %). `
    + `The stand-in's processes used ${fmt(g.childPercent, 2)} % of one core (not a real nvidia-smi's figure). GPUs in the last snapshot: ${gpuCount ?? '?'}; gpu source status at the end: \`${JSON.stringify(gpuHealth)}\`.`,
    '',
    table(['server', 'window ticks', 'CPU % of one core', 'last half %', `ticks per ${fmt(segS, 0)} s`, 'ticks main / other threads', 'stand-in children % (ticks)', 'live stand-ins at the end', 'other child ticks (esbuild of tsx, from sources)', 'events received', 'RSS MiB'], [
      row(g), row(b),
      ['**difference = the gpu source**', String(g.ticks - b.ticks), `**${fmt(diff, 2)}**`, fmt(g.lastHalfPercent - b.lastHalfPercent, 2), g.segments.map((v, k) => v - b.segments[k]!).join(' / '), '', '', '', '', '', ''],
    ]),
    '',
    `nvidia-smi spawns (NVIDIA_SMI_LOG, one line per invocation): **${total} in all** after ${fmt(windowStartAfterS! + windowMs / 1000, 0)} s of the server's life. `
    + `Target: the 3 long-lived ones (help, the two loops) plus the periodic \`-q -x\`, not one per second: **${spawnVerdict ? 'meets' : 'misses'}**.`,
    '',
    table(['kind', 'before the window (start-up, warm-up)', `in the ${fmt(windowMs / 1000, 0)} s window`, 'total'], kinds.map((k) => {
      const a = spawnsAtStart.get(k) ?? 0;
      const w = spawnsAtEnd.get(k) ?? 0;
      return [k, String(a), String(w), String(a + w)];
    })),
    '',
  ].join('\n');
  return { name: 'gpu-cpu', markdown, data: { gpu: g, baseline: b, diff, spawns: { before: Object.fromEntries(spawnsAtStart), window: Object.fromEntries(spawnsAtEnd), total }, totalAtEnd: totalAtEnd!, gpuHealth } };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const r = await run({ quick: process.argv.includes('--quick') });
  process.stdout.write(`${r.markdown}\n`);
  process.exit(0);
}
