/**
 * agents: 50 simulated agents at 1 Hz into one hub (issue 15). The compiled hub runs with an agent token and
 * declared resources; this process holds 50 agents (socket.io-client on the agents' namespace, nodes sim-00…sim-49,
 * each a host of 8 cores and 8 GPUs) sending one snapshot a second each, staggered evenly over the second, with
 * `sampledAt` = send time, and the browser-like clients of `resource_status` (one socket.io, one SSE). Same process,
 * same clock:
 *   - agent send → client receipt per snapshot (matched by node + sampledAt), p50/p90/p99/max, per transport;
 *   - the ack round trip as the agents see it, p50/p99, and snapshots acknowledged per second;
 *   - the hub's CPU (utime + stime, % of one core) and RSS over the steady window, against a baseline window of the
 *     same length in the same hub before any agent joined (its own monitor and the two clients only).
 * Two windows with the agents: GPUs without processes, then (half as long) every GPU held by a process no allocation
 * accounts for, so that the hub keeps 400 schedule_conflicts open and re-derives them at every snapshot.
 * Two hub replicas behind Redis and PostgreSQL: bench/agents-replicas.ts.
 * `node --import tsx --import ./bench/compiled.ts bench/agents.ts [--quick]` or `npm run bench -- --only agents`.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { EventSource } from 'eventsource';
import { io, type Socket } from 'socket.io-client';
import { AGENT_NAMESPACE, AGENT_PROTOCOL, type AgentToHubEvents, type AgentWelcome, type HubToAgentEvents, type SnapshotAck } from '../shared/agents.ts';
import type { ClientToServerEvents, Envelope, ServerToClientEvents } from '../shared/events.ts';
import type { Gpu, HostSample, ResourceStatus } from '../shared/resources.ts';
import {
  clockTicks, fmt, installCleanupHandlers, machineBusyPercent, machineCores, machineTicks, percentile, procTimes, sleep, spawnServer, table, tempDir, withTimeout,
  type BenchOptions, type BenchResult, type ProcTimes, type ServerProcess,
} from './lib.ts';

export const AGENTS = 50;
const GPUS_PER_NODE = 8;
const CORES_PER_NODE = 8;
const PERIOD_MS = 1000;
export const AGENT_TOKEN = 'bench-agent-token-0123456789abcdef';
/** CPU of the hub is read every SEGMENT_MS within a window, to show how steady it is */
const SEGMENT_MS = 5000;

// ------------------------------------------------------------------ a simulated node's snapshot

/**
 * A GPU as the gpu source reports one (the shape of test/helpers/fake-gpu.ts); `withProcess`: a training process
 * holds it that no allocation accounts for (the hub opens a schedule_conflict for each such GPU).
 */
function gpu(node: string, index: number, at: number, load: number, withProcess: boolean): Gpu {
  const used = 20_000 + Math.round(load * 400);
  return {
    index, uuid: `GPU-${node}-${index}`, name: 'NVIDIA A100-SXM4-80GB', pciBusId: `00000000:${(16 + index * 16).toString(16).toUpperCase()}:00.0`,
    driverVersion: '595.58.03', status: 'ok', utilizationGpuPercent: load, utilizationMemoryPercent: Math.round(load / 3),
    memoryTotalMiB: 81_920, memoryUsedMiB: used, memoryFreeMiB: 81_920 - used, temperatureC: 45 + Math.round(load / 4), powerDrawW: 90 + load * 3,
    powerLimitW: 400, fanPercent: null, pstate: 'P0', clockSmMHz: 1410, clockMemMHz: 1593, migMode: false, eccErrorsCorrected: 0,
    eccErrorsUncorrected: 0, throttleReasons: [], migInstances: [],
    processes: !withProcess ? [] : [{ pid: 40_000 + index, name: 'python', type: 'C', usedMemoryMiB: used - 500, gpuUuid: `GPU-${node}-${index}`, gpuIndex: index, gpuInstanceId: null, computeInstanceId: null, user: 'ana', containerId: null }],
    health: 'healthy', sampledAt: at,
  };
}

function host(node: string, at: number, load: number): HostSample {
  return {
    sampledAt: at, hostname: node, uptimeSec: 86_400 + Math.round(at / 1000) % 86_400,
    cpu: {
      model: 'AMD EPYC 7543 32-Core Processor', cores: CORES_PER_NODE, loadPercent: load, perCore: Array.from({ length: CORES_PER_NODE }, (_, i) => (load + i * 7) % 100),
      speedMHz: 2800, speedMinMHz: 1500, speedMaxMHz: 3700, loadAvg: [2.1, 1.9, 1.7], health: 'healthy',
    },
    memory: { totalMiB: 515_000, usedMiB: 128_000, availableMiB: 387_000, usedPercent: 24.9, swapTotalMiB: 8192, swapUsedMiB: 0, swapUsedPercent: 0, health: 'healthy' },
    disks: [
      { mount: '/', device: '/dev/nvme0n1p2', fsType: 'ext4', sizeBytes: 1.9e12, usedBytes: 4.1e11, availableBytes: 1.49e12, usedPercent: 21.6, health: 'healthy' },
      { mount: '/data', device: '/dev/md0', fsType: 'xfs', sizeBytes: 1.5e13, usedBytes: 9.2e12, availableBytes: 5.8e12, usedPercent: 61.3, health: 'healthy' },
    ],
    network: [
      { iface: 'eno1', rxBytesPerSec: 1.2e6, txBytesPerSec: 3.4e5, rxBytesTotal: 8.1e11, txBytesTotal: 2.2e11 },
      { iface: 'ib0', rxBytesPerSec: 4.5e8, txBytesPerSec: 4.4e8, rxBytesTotal: 9.9e13, txBytesTotal: 9.8e13 },
    ],
  };
}

function nodeStatus(node: string, at: number, seq: number, withProcesses: boolean): ResourceStatus {
  const load = (seq * 13) % 100;
  const ok = { status: 'ok' as const, lastSampleAt: at, lastErrorAt: null, consecutiveFailures: 0, nextRetryAt: null };
  return {
    node, sampledAt: at, sources: { host: ok, gpu: ok }, host: host(node, at, load),
    gpus: Array.from({ length: GPUS_PER_NODE }, (_, i) => gpu(node, i, at, (load + i * 11) % 100, withProcesses)), containers: [], health: 'healthy',
  };
}

// ------------------------------------------------------------------ agents

export type AgentSocket = Socket<HubToAgentEvents, AgentToHubEvents>;

/** A measured window's figures, filled as the snapshots sent in it are acknowledged and received. */
interface Phase {
  sent: number;
  ackMs: number[];
  acked: number;
  refused: number;
  ackTimeouts: number;
  lastError: string | null;
  io: Receiver;
  sse: Receiver;
  /** clients of a follower hub replica (bench/agents-replicas.ts) */
  followerIo: Receiver;
  followerSse: Receiver;
}

/** Where a client's receipts are counted. */
export type Slot = 'io' | 'sse' | 'followerIo' | 'followerSse';

const phase = (): Phase => ({ sent: 0, ackMs: [], acked: 0, refused: 0, ackTimeouts: 0, lastError: null, io: receiver(), sse: receiver(), followerIo: receiver(), followerSse: receiver() });

interface Sent {
  /** performance.now() when emitted */
  at: number;
  /** the window it was sent in; null: outside every window */
  phase: Phase | null;
}

export interface Tally {
  /** node:sampledAt → the send */
  sent: Map<string, Sent>;
  /** the window open now */
  current: Phase | null;
  /** the GPUs' processes are in the snapshots */
  withProcesses: boolean;
}

export function connectAgent(url: string, node: string): Promise<AgentSocket> {
  const socket: AgentSocket = io(`${url}${AGENT_NAMESPACE}`, {
    auth: { token: AGENT_TOKEN, node, bootId: randomUUID(), version: 'bench', protocol: AGENT_PROTOCOL },
    transports: ['websocket'], forceNew: true, reconnection: false,
  });
  return withTimeout(new Promise<AgentSocket>((resolve, reject) => {
    socket.once('connect_error', reject);
    socket.once('welcome', (_w: AgentWelcome) => resolve(socket));
  }), 15_000, `agent ${node} welcome`).catch((e: unknown) => {
    socket.disconnect();
    throw e;
  });
}

/** Each agent sends at t0 + k·PERIOD + its offset; returns a stop function. */
export function startSending(agents: { node: string; socket: AgentSocket }[], tally: Tally): () => void {
  const t0 = performance.now() + 50;
  let stopped = false;
  const timers: NodeJS.Timeout[] = [];
  agents.forEach(({ node, socket }, i) => {
    const offset = (i * PERIOD_MS) / agents.length;
    let seq = 0;
    const tick = () => {
      if (stopped) return;
      seq++;
      const at = Date.now();
      const key = `${node}:${at}`;
      const status = nodeStatus(node, at, seq, tally.withProcesses);
      const sent: Sent = { at: performance.now(), phase: tally.current };
      tally.sent.set(key, sent);
      if (sent.phase) sent.phase.sent++;
      socket.timeout(10_000).emitWithAck('snapshot', { seq, status }).then(
        (ack: SnapshotAck) => {
          const p = sent.phase;
          if (!p) return;
          if (ack.ok) {
            p.acked++;
            p.ackMs.push(performance.now() - sent.at);
          } else {
            p.refused++;
            p.lastError = ack.error;
          }
        },
        (err: unknown) => {
          if (!sent.phase) return;
          sent.phase.ackTimeouts++;
          sent.phase.lastError = err instanceof Error ? err.message : String(err);
        },
      );
      const next = t0 + offset + seq * PERIOD_MS;
      timers[i] = setTimeout(tick, Math.max(0, next - performance.now()));
    };
    timers[i] = setTimeout(tick, Math.max(0, t0 + offset - performance.now()));
  });
  return () => {
    stopped = true;
    for (const t of timers) clearTimeout(t);
  };
}

// ------------------------------------------------------------------ browser-like clients

interface Receiver {
  latencies: number[];
  /** [latency, send time (performance.now()), node] of each snapshot of the window */
  samples: [number, number, string][];
  received: number;
  duplicates: number;
  /** resource_status events of other nodes (the hub's own) */
  others: number;
  seen: Set<string>;
}

const receiver = (): Receiver => ({ latencies: [], samples: [], received: 0, duplicates: 0, others: 0, seen: new Set() });

function onStatus(transport: Slot, others: Receiver, tally: Tally, data: ResourceStatus): void {
  const at = performance.now();
  const key = `${data.node}:${data.sampledAt}`;
  const sent = tally.sent.get(key);
  if (!sent) return void others.others++;
  if (!sent.phase) return;
  const r = sent.phase[transport];
  if (r.seen.has(key)) return void r.duplicates++;
  r.seen.add(key);
  r.received++;
  r.latencies.push(at - sent.at);
  r.samples.push([at - sent.at, sent.at, data.node]);
}

export async function connectClients(server: Pick<ServerProcess, 'url' | 'token'>, tally: Tally, slots: [Slot, Slot] = ['io', 'sse']) {
  const rio = receiver();
  const rsse = receiver();
  const client: Socket<ServerToClientEvents, ClientToServerEvents> = io(server.url, {
    transports: ['websocket'], forceNew: true, reconnection: false, auth: { token: server.token, types: ['resource_status'] },
  });
  let disconnects = 0;
  client.on('resource_status', (env) => onStatus(slots[0], rio, tally, env.data));
  client.on('disconnect', () => disconnects++);
  const es = new EventSource(`${server.url}/api/events?types=resource_status&access_token=${server.token}`);
  let sseErrors = 0;
  es.addEventListener('resource_status', (e) => onStatus(slots[1], rsse, tally, (JSON.parse((e as MessageEvent<string>).data) as Envelope<'resource_status'>).data));
  await withTimeout(Promise.all([
    new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve());
      client.once('connect_error', reject);
    }),
    new Promise<void>((resolve, reject) => {
      es.addEventListener('open', () => resolve());
      es.addEventListener('error', () => (sseErrors++, reject(new Error('the resource_status stream failed'))));
    }),
  ]), 15_000, 'clients connect');
  return {
    io: rio, sse: rsse, disconnects: () => disconnects, sseErrors: () => sseErrors,
    close() {
      client.disconnect();
      es.close();
    },
  };
}

// ------------------------------------------------------------------ a measured window

interface Window {
  wallS: number;
  cpuPercent: number;
  /** % of one core per SEGMENT_MS segment */
  segments: number[];
  /** the hub's RSS at the start and at the end of each segment, MiB */
  rssSeries: number[];
  /** performance.now() at the start */
  startedAt: number;
  rssMiB: number;
  hwmMiB: number;
  benchCpuPercent: number;
  benchElu: number;
  otherPercent: number;
}

function hwmMiB(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

export async function measure(pid: number, ms: number): Promise<Window> {
  const tck = clockTicks();
  const m0 = machineTicks();
  const c0 = process.cpuUsage();
  const e0 = performance.eventLoopUtilization();
  const w0 = performance.now();
  const s0 = procTimes(pid);
  const segments: number[] = [];
  const mib = (t: ProcTimes) => (t.rssPages * 4096) / 2 ** 20;
  const rssSeries = [mib(s0)];
  let prev: ProcTimes = s0;
  let prevAt = w0;
  while (performance.now() - w0 < ms - 1) {
    await sleep(Math.min(SEGMENT_MS, ms - (performance.now() - w0)));
    const now = performance.now();
    const t = procTimes(pid);
    segments.push(((t.self - prev.self) / tck / ((now - prevAt) / 1000)) * 100);
    rssSeries.push(mib(t));
    prev = t;
    prevAt = now;
  }
  const wallS = (performance.now() - w0) / 1000;
  const s1 = procTimes(pid);
  const cpuPercent = ((s1.self - s0.self) / tck / wallS) * 100;
  const c = process.cpuUsage(c0);
  const benchCpuPercent = ((c.user + c.system) / 1e6 / wallS) * 100;
  return {
    wallS, cpuPercent, segments, rssSeries, startedAt: w0, rssMiB: (s1.rssPages * 4096) / 2 ** 20, hwmMiB: hwmMiB(pid), benchCpuPercent,
    benchElu: performance.eventLoopUtilization(e0).utilization,
    otherPercent: Math.max(0, machineBusyPercent(m0, machineTicks()) - cpuPercent - benchCpuPercent),
  };
}

// ------------------------------------------------------------------ the run

const sorted = (v: number[]) => Float64Array.from(v).sort();

export function summary(v: number[]) {
  const s = sorted(v);
  return { n: s.length, p50: percentile(s, 50), p90: percentile(s, 90), p99: percentile(s, 99), max: s.length ? s[s.length - 1]! : NaN };
}

/** A window with the agents sending: warm-up, then `ms` measured; the snapshots sent in it make its figures. */
export async function agentWindow(pid: number, tally: Tally, settleMs: number, ms: number): Promise<{ w: Window; p: Phase }> {
  await sleep(settleMs);
  const p = phase();
  tally.current = p;
  const w = await measure(pid, ms);
  tally.current = null;
  return { w, p };
}

interface Scenario {
  label: string;
  w: Window;
  p: Phase;
}

function scenarioText(s: Scenario, baseline: Window): string {
  const { w, p } = s;
  const lat = { io: summary(p.io.latencies), sse: summary(p.sse.latencies) };
  const ack = summary(p.ackMs);
  const slow = p.io.samples.filter(([l]) => l > 100);
  const slowSeconds = [...new Set(slow.map(([, at]) => Math.floor((at - w.startedAt) / 1000)))].sort((a, b) => a - b);
  const worst = [...p.io.samples].sort((a, b) => b[0] - a[0]).slice(0, 5)
    .map(([l, at, node]) => `${fmt(l, 0)} ms (${node}, ${fmt((at - w.startedAt) / 1000, 2)} s into the window)`);
  const cost = w.cpuPercent - baseline.cpuPercent;
  return [
    `### ${s.label}`,
    '',
    `${p.sent} snapshots sent in the ${fmt(w.wallS, 0)} s window, **${fmt(p.acked / w.wallS, 1)} acknowledged/s** (${p.acked} ok, ${p.refused} refused, ${p.ackTimeouts} without an ack within 10 s${p.lastError ? `; last error: ${p.lastError}` : ''}); ack round trip p50 **${fmt(ack.p50, 1)} ms**, p99 **${fmt(ack.p99, 1)} ms**, max ${fmt(ack.max, 1)} ms. Hub CPU **${fmt(w.cpuPercent, 2)} %** of one core (per 5 s: ${w.segments.map((v) => fmt(v, 1)).join(', ')}), **${fmt(cost, 2)} %** above the baseline: ${fmt((cost / 100) * 1000 / Math.max(1, p.acked / w.wallS), 2)} ms of hub CPU per snapshot. RSS every 5 s, MiB: ${w.rssSeries.map((v) => fmt(v, 0)).join(' ')} (peak ${fmt(w.hwmMiB, 0)}).`,
    '',
    table(['client', 'received / sent', 'duplicates', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms'], (['io', 'sse'] as const).map((t) => [
      t === 'io' ? 'socket.io' : 'SSE', `${p[t].received} / ${p.sent}`, String(p[t].duplicates),
      fmt(lat[t].p50, 1), fmt(lat[t].p90, 1), `**${fmt(lat[t].p99, 1)}**`, fmt(lat[t].max, 1),
    ])),
    '',
    `Over 100 ms (socket.io): ${slow.length} of ${p.io.received}, sent in ${slowSeconds.length} distinct seconds of the window${slowSeconds.length ? ` (${slowSeconds.slice(0, 20).join(', ')}${slowSeconds.length > 20 ? ', …' : ''})` : ''}. Largest: ${worst.join('; ')}.`,
    '',
  ].join('\n');
}

export async function run(opts: BenchOptions = { quick: false }): Promise<BenchResult> {
  const windowMs = opts.quick ? 15_000 : 60_000;
  const settleMs = opts.quick ? 3000 : 5000;
  const dataDir = tempDir('arbiter-bench-agents-');
  const configPath = join(dataDir, 'config.json');
  writeFileSync(configPath, JSON.stringify({ resources: { cpu: 8000, memoryMiB: 32_768, gpus: [] } }));
  const server = await spawnServer(['--config', configPath, '--agent-token', AGENT_TOKEN, '--no-gpu', '--no-docker', '--no-web-build'], 120_000, [], { dataDir });
  const tally: Tally = { sent: new Map(), current: null, withProcesses: false };
  const agents: { node: string; socket: AgentSocket }[] = [];
  let clients: Awaited<ReturnType<typeof connectClients>> | undefined;
  let stop = () => {};
  try {
    clients = await connectClients(server, tally);
    // baseline: the hub with its own monitor and the two clients, no agent yet
    await sleep(settleMs);
    const others0 = clients.io.others;
    const baseline = await measure(server.pid, windowMs);
    const localEvents = clients.io.others - others0;

    const c0 = performance.now();
    const nodes = Array.from({ length: AGENTS }, (_, i) => `sim-${String(i).padStart(2, '0')}`);
    agents.push(...(await Promise.all(nodes.map(async (node) => ({ node, socket: await connectAgent(server.url, node) })))));
    const connectMs = performance.now() - c0;
    stop = startSending(agents, tally);
    const idle = await agentWindow(server.pid, tally, settleMs, windowMs);
    // then every GPU of every node held by a process no allocation accounts for: 400 open schedule_conflicts
    tally.withProcesses = true;
    const busy = await agentWindow(server.pid, tally, settleMs, windowMs / 2);
    stop();
    await sleep(2000); // in-flight snapshots of the window's last second
    const scenarios: Scenario[] = [
      { label: `${AGENTS} agents, GPUs without processes`, ...idle },
      { label: `${AGENTS} agents, every GPU held by a process no allocation accounts for (${AGENTS * GPUS_PER_NODE} open schedule_conflicts)`, ...busy },
    ];
    const bytes = (withProcesses: boolean) => Buffer.byteLength(JSON.stringify({ seq: 1, status: nodeStatus('sim-00', Date.now(), 1, withProcesses) }));
    const markdown = [
      '## agents',
      '',
      `${AGENTS} simulated agents (socket.io-client on \`${AGENT_NAMESPACE}\` over WebSocket, in the bench process) into one compiled hub (\`--agent-token\`, \`--no-gpu --no-docker\`, its own host monitor at 1 s). Each agent is a node \`sim-NN\` of ${CORES_PER_NODE} cores and ${GPUS_PER_NODE} GPUs, sending one snapshot a second (staggered ${fmt(PERIOD_MS / AGENTS, 0)} ms apart), \`sampledAt\` = send time; a snapshot is ${fmt(bytes(false) / 1024, 1)} KiB of JSON (${fmt(bytes(true) / 1024, 1)} KiB with a process on each GPU). The browser-like clients (one socket.io, one SSE, \`resource_status\` only) are in the same process: latency = agent emit → client receipt, matched by node + sampledAt, same clock. Windows: the baseline (the same hub, its own monitor, the two clients, no agent yet) ${fmt(windowMs / 1000, 0)} s; the agents with idle GPUs ${fmt(windowMs / 1000, 0)} s; then with a process on every GPU ${fmt(windowMs / 2000, 0)} s; each agents' window after ${fmt(settleMs / 1000, 0)} s of warm-up. ${AGENTS} agents connected in ${fmt(connectMs, 0)} ms.`,
      '',
      table(['window', 'hub CPU % of one core', 'above baseline', 'acked/s', 'ack p50 / p99 ms', 'socket.io p50 / p99 / max ms', 'SSE p50 / p99 / max ms', 'hub RSS MiB (end)', 'bench process CPU % / ELU %', 'other load %'], [
        ['baseline: no agents', fmt(baseline.cpuPercent, 2), '', '', '', '', '', fmt(baseline.rssMiB, 0), `${fmt(baseline.benchCpuPercent, 1)} / ${fmt(baseline.benchElu * 100, 0)}`, fmt(baseline.otherPercent, 0)],
        ...scenarios.map(({ w, p }, k) => {
          const io = summary(p.io.latencies);
          const sse = summary(p.sse.latencies);
          const ack = summary(p.ackMs);
          return [
            k ? 'agents, a process on every GPU' : 'agents, idle GPUs', `**${fmt(w.cpuPercent, 2)}**`, fmt(w.cpuPercent - baseline.cpuPercent, 2), fmt(p.acked / w.wallS, 1),
            `${fmt(ack.p50, 1)} / ${fmt(ack.p99, 1)}`, `${fmt(io.p50, 1)} / **${fmt(io.p99, 1)}** / ${fmt(io.max, 0)}`, `${fmt(sse.p50, 1)} / **${fmt(sse.p99, 1)}** / ${fmt(sse.max, 0)}`,
            fmt(w.rssMiB, 0), `${fmt(w.benchCpuPercent, 1)} / ${fmt(w.benchElu * 100, 0)}`, fmt(w.otherPercent, 0),
          ];
        }),
      ]),
      '',
      `Baseline: hub CPU per 5 s ${baseline.segments.map((v) => fmt(v, 1)).join(', ')} %; RSS every 5 s ${baseline.rssSeries.map((v) => fmt(v, 0)).join(' ')} MiB; the hub's own node sent ${localEvents} resource_status events to the socket.io client. Client disconnects over the run: ${clients.disconnects()} socket.io, ${clients.sseErrors()} SSE errors. Other load = everything else on the machine (${machineCores()} cores), % of one core.`,
      '',
      ...scenarios.map((x) => scenarioText(x, baseline)),
    ].join('\n');
    return { name: 'agents', markdown, data: { baseline, scenarios: scenarios.map(({ label, w, p }) => ({ label, w, p: { ...p, io: summary(p.io.latencies), sse: summary(p.sse.latencies), ackMs: summary(p.ackMs) } })), connectMs } };
  } catch (err) {
    throw new Error(`${err instanceof Error ? err.message : String(err)}; the hub's last output: ${server.stderr().slice(-2000)}`, { cause: err });
  } finally {
    stop();
    for (const a of agents) a.socket.disconnect();
    clients?.close();
    await server.stop();
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  installCleanupHandlers();
  const r = await run({ quick: process.argv.includes('--quick') });
  process.stdout.write(`${r.markdown}\n`);
}
