/**
 * agents-replicas: the agents benchmark (bench/agents.ts: 50 simulated agents at 1 Hz) with two hub replicas on one
 * PostgreSQL and one Redis (throw-away ones, test/helpers: initdb on a free port, redis-server on a free port). The
 * agents report to the leader; browser-like clients (socket.io + SSE, `resource_status`) on the leader and on the
 * follower in the same window, so that the follower's path (leader → Redis stream → follower → client) is measured
 * against the leader's own (leader → client) in the same run. Then the leader is killed with -9 and the time until
 * the follower acknowledges a POST /api/requests as the new leader is measured (--leader-poll-ms 1000, the default).
 * Between the two, the scheduler's reads over 32 connections: on the leader, on the follower (its read model of the
 * store), and on the follower while the leader is stopped.
 * `npm run bench -- --only agents-replicas [--quick]`.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { TestPostgres } from '../test/helpers/postgres.ts';
import { TestRedis } from '../test/helpers/redis.ts';
import { AGENTS, AGENT_TOKEN, agentWindow, connectAgent, connectClients, startSending, summary, type AgentSocket, type Slot, type Tally } from './agents.ts';
import { runLoad, type Phase } from './api-requests.ts';
import { NO_RATE_LIMIT, clockTicks, fmt, procTimes, sleep, spawnServer, table, tempDir, type BenchOptions, type BenchResult, type ServerProcess } from './lib.ts';

async function replica(database: string, redis: string): Promise<ServerProcess> {
  const dataDir = tempDir('arbiter-bench-replica-');
  const configPath = join(dataDir, 'config.json');
  writeFileSync(configPath, JSON.stringify({ resources: { cpu: 8000, memoryMiB: 32_768, gpus: [] } }));
  return spawnServer(['--config', configPath, ...NO_RATE_LIMIT, '--agent-token', AGENT_TOKEN, '--database', database, '--redis', redis, '--no-gpu', '--no-docker', '--no-web-build'], 120_000, [], { dataDir });
}

export async function run(opts: BenchOptions = { quick: false }): Promise<BenchResult> {
  const windowMs = opts.quick ? 15_000 : 60_000;
  const settleMs = opts.quick ? 3000 : 5000;
  const [pg, redis] = await Promise.all([TestPostgres.start(), TestRedis.start()]);
  const servers: ServerProcess[] = [];
  const agents: { node: string; socket: AgentSocket }[] = [];
  const clients: Awaited<ReturnType<typeof connectClients>>[] = [];
  let stop = () => {};
  try {
    const database = await pg.schema();
    const leader = await replica(database, redis.url);
    servers.push(leader);
    const follower = await replica(database, redis.url);
    servers.push(follower);
    const tally: Tally = { sent: new Map(), current: null, withProcesses: false };
    clients.push(await connectClients(leader, tally, ['io', 'sse']));
    clients.push(await connectClients(follower, tally, ['followerIo', 'followerSse']));
    const nodes = Array.from({ length: AGENTS }, (_, i) => `sim-${String(i).padStart(2, '0')}`);
    agents.push(...(await Promise.all(nodes.map(async (node) => ({ node, socket: await connectAgent(leader.url, node) })))));
    stop = startSending(agents, tally);
    const f0 = procTimes(follower.pid);
    const t0 = performance.now();
    const { w, p } = await agentWindow(leader.pid, tally, settleMs, windowMs);
    const followerCpu = ((procTimes(follower.pid).self - f0.self) / clockTicks() / ((performance.now() - t0) / 1000)) * 100;
    stop();
    await sleep(2000);

    // reads: 100 allocations, 50 waiting requests with their conflicts; 32 connections on the leader, then on the
    // follower (which answers them from the store), then on the follower while the leader is stopped (SIGSTOP)
    const post = (body: object) => fetch(`${leader.url}/api/requests`, {
      method: 'POST', headers: { authorization: `Bearer ${leader.token}`, 'content-type': 'application/json' }, body: JSON.stringify(body),
    }).then((r) => r.body?.cancel());
    for (let i = 0; i < 100; i++) await post({ owner: `r${i % 10}`, resources: { cpu: 50 } });
    for (let i = 0; i < 50; i++) await post({ owner: `w${i % 10}`, resources: { cpu: 4000 } });
    const readMs = opts.quick ? 3000 : 10_000;
    const reads = {
      leader: await runLoad(leader, 'reads', 2000, readMs),
      follower: await runLoad(follower, 'reads', 2000, readMs),
      followerAlone: await (async () => {
        leader.child.kill('SIGSTOP');
        try {
          return await runLoad(follower, 'reads', 1000, readMs);
        } finally {
          leader.child.kill('SIGCONT');
        }
      })(),
    };

    // the leader dies: how long until the follower acknowledges a request as the new leader
    leader.child.kill('SIGKILL');
    const k0 = performance.now();
    let takeoverMs = NaN;
    let tries = 0;
    while (performance.now() - k0 < 60_000) {
      tries++;
      try {
        const r = await fetch(`${follower.url}/api/requests`, {
          method: 'POST', headers: { authorization: `Bearer ${follower.token}`, 'content-type': 'application/json', 'idempotency-key': 'takeover' },
          body: JSON.stringify({ owner: 'bench', resources: { cpu: 10 } }),
        });
        await r.body?.cancel();
        if (r.status === 201 || r.status === 202) {
          takeoverMs = performance.now() - k0;
          break;
        }
      } catch {
        // the follower's server closing while it takes over
      }
      await sleep(20);
    }

    const row = (label: string, slot: Slot) => {
      const r = p[slot];
      const l = summary(r.latencies);
      return [label, `${r.received} / ${p.sent}`, String(r.duplicates), fmt(l.p50, 1), fmt(l.p90, 1), `**${fmt(l.p99, 1)}**`, fmt(l.max, 1)];
    };
    const readRow = (label: string, x: Phase) => [label, `**${fmt(x.load.perSec, 0)}**`, fmt(x.load.latencyMs.p50, 1), fmt(x.load.latencyMs.p99, 1), Object.entries(x.load.statuses).map(([k, v]) => `${k}: ${v}`).join(', '), fmt(x.serverCpuPercent, 0)];
    const ack = summary(p.ackMs);
    const lead = summary(p.io.latencies);
    const fol = summary(p.followerIo.latencies);
    const markdown = [
      '## agents-replicas',
      '',
      `${AGENTS} simulated agents at 1 Hz (as in \`agents\`) into the leader of two hub replicas (\`serve --database postgres://… --redis redis://…\`, each its own process; PostgreSQL and Redis throw-away servers on loopback). Clients (one socket.io, one SSE each, \`resource_status\` only) on the leader and on the follower in the same ${fmt(windowMs / 1000, 0)} s window after ${fmt(settleMs / 1000, 0)} s of warm-up: the follower's clients get each snapshot through the Redis stream (leader XADD → follower XREAD → its hub → client) under the leader's event id.`,
      '',
      `${p.sent} snapshots sent, ${fmt(p.acked / w.wallS, 1)} acknowledged/s (ack p50 ${fmt(ack.p50, 1)} ms, p99 ${fmt(ack.p99, 1)} ms). Leader CPU **${fmt(w.cpuPercent, 1)} %** of one core, follower **${fmt(followerCpu, 1)} %**; machine: other load ${fmt(w.otherPercent, 0)} %. The follower's path adds ${fmt(fol.p50 - lead.p50, 1)} ms at p50 and ${fmt(fol.p99 - lead.p99, 1)} ms at p99 (socket.io) to the leader's own.`,
      '',
      table(['client', 'received / sent', 'duplicates', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms'], [
        row('leader, socket.io (baseline)', 'io'), row('leader, SSE (baseline)', 'sse'),
        row('**follower, socket.io** (through Redis)', 'followerIo'), row('**follower, SSE** (through Redis)', 'followerSse'),
      ]),
      '',
      `Reads (GET the active allocations — 100 —, a page of 50 of the queue, a page of 50 of the open conflicts, in turn; 32 keep-alive connections from a separate process, ${fmt(readMs / 1000, 0)} s each): the follower answers them from its read model of the store, brought up to date with the decision log before each answer.`,
      '',
      table(['served by', 'reads/s', 'p50 ms', 'p99 ms', 'statuses', 'server CPU %'], [
        readRow('leader (baseline: its engine)', reads.leader),
        readRow('**follower** (read model)', reads.follower),
        readRow('**follower, the leader stopped**', reads.followerAlone),
      ]),
      '',
      `Takeover: the leader killed with -9, the follower (asking for the leader's lock every 1000 ms) acknowledged a POST /api/requests as the new leader **${fmt(takeoverMs, 0)} ms** later (${tries} tries; 503 or a refused connection before).`,
      '',
    ].join('\n');
    return { name: 'agents-replicas', markdown, data: { w, followerCpu, p: { sent: p.sent, acked: p.acked, ack, leader: { io: lead, sse: summary(p.sse.latencies) }, follower: { io: fol, sse: summary(p.followerSse.latencies) } }, takeoverMs, reads: Object.fromEntries(Object.entries(reads).map(([k, v]) => [k, { perSec: v.load.perSec, latencyMs: v.load.latencyMs, statuses: v.load.statuses, serverCpuPercent: v.serverCpuPercent }])) } };
  } finally {
    stop();
    for (const a of agents) a.socket.disconnect();
    for (const c of clients) c.close();
    for (const s of servers) await s.stop();
    await Promise.all([pg.stop(), redis.stop()]);
  }
}
