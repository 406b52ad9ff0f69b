/**
 * An agent: this node's monitor as `arbiter serve` runs it (the loop with host, GPU and container sources, the status
 * board attached to it), with every snapshot the board publishes handed to the link to the hub; and the workers the
 * hub starts on this node (workers.ts), on the local backend (and the docker one when the Docker source is on).
 */
import { join } from 'node:path';
import type { NodeMonitorConfig } from '../config.ts';
import { systemClock, type Clock } from '../clock.ts';
import type { Logger } from '../log.ts';
import { History } from '../monitor/history.ts';
import type { MonitorLoop } from '../monitor/loop.ts';
import { StatusBoard, type NodeSamples } from '../monitor/status.ts';
import { nodeMonitor, type NodeSources } from '../runtime/node-monitor.ts';
import type { Backend } from '../runtime/workers/backend.ts';
import { DockerBackend } from '../runtime/workers/docker.ts';
import { LocalBackend } from '../runtime/workers/local.ts';
import { freePort } from '../runtime/workers/ports.ts';
import { readStat } from '../runtime/workers/proc.ts';
import type { ResourceStatus } from '../../shared/resources.ts';
import type { WorkerBackend } from '../../shared/workers.ts';
import { AgentLink, type AgentLinkOptions, type LinkEnd, type LinkState } from './link.ts';
import { AgentWorkers } from './workers.ts';

/** The board's in-memory history: it records series as it goes, but the agent serves none (the hub keeps history). */
const HISTORY_SECONDS = 60;

export interface AgentConfig {
  /** the node's name, checked (options.ts resolveNodeName) */
  node: string;
  hub: string;
  token: string;
  ackTimeoutMs: number;
  monitor: NodeMonitorConfig['monitor'];
  health: NodeMonitorConfig['health'];
  /** where its workers' logs, exit statuses and state file are kept; null: it runs no workers */
  dataDir: string | null;
  /** where the hub reaches its workers' ports; absent: the address the hub sees it connect from */
  advertiseHost?: string;
}

export interface AgentDeps {
  log: Logger;
  clock?: Clock;
  /** stand-ins for the real sources (tests) */
  sources?: NodeSources;
  /** each change of the link's state, from the first connection attempt on */
  onLinkState?: (s: LinkState) => void;
  /** the link's other options (tests: shorter reconnection delays) */
  link?: Partial<Pick<AgentLinkOptions, 'reconnectionDelayMs' | 'reconnectionDelayMaxMs' | 'refusedRetryMs' | 'bootId'>>;
  /** stand-ins for the worker backends (tests) */
  workerBackends?: Partial<Record<WorkerBackend, Backend>>;
}

export interface Agent {
  readonly node: string;
  readonly link: AgentLink;
  readonly board: StatusBoard;
  readonly loop: MonitorLoop<NodeSamples>;
  /** null: it runs no workers */
  readonly workers: AgentWorkers | null;
  /** the link's end: refused by the hub, or stopped */
  readonly ended: Promise<LinkEnd>;
  /** `bye` to the hub, then the monitor stops */
  stop(): Promise<void>;
}

export async function startAgent(config: AgentConfig, deps: AgentDeps): Promise<Agent> {
  const clock = deps.clock ?? systemClock;
  const { log } = deps;
  const board = new StatusBoard(config.node, new History(HISTORY_SECONDS), clock);
  const backends = config.dataDir === null ? null : deps.workerBackends ?? workerBackends(config, config.dataDir, log);
  const kinds = backends ? (Object.keys(backends) as WorkerBackend[]) : [];
  const link = new AgentLink({
    hub: config.hub, token: config.token, node: config.node, ackTimeoutMs: config.ackTimeoutMs,
    clock, log: log.child({ part: 'link' }), ...deps.link,
    ...(kinds.length ? { workers: { backends: kinds, ...(config.advertiseHost ? { host: config.advertiseHost } : {}) } } : {}),
  });
  if (deps.onLinkState) link.onState(deps.onLinkState);
  board.onSnapshot((s) => link.send(withProcessGroups(s)));
  const loop = nodeMonitor({ config, clock, log, board, sources: deps.sources });
  const workers = backends && kinds.length ? new AgentWorkers({
    link, backends, stateFile: join(config.dataDir!, 'workers.json'), freePort: () => freePort('0.0.0.0'), clock, log: log.child({ part: 'workers' }), ackTimeoutMs: config.ackTimeoutMs,
  }) : null;
  await workers?.start();
  link.start();
  await loop.start();

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      await link.stop();
      await workers?.stop();
      await loop.stop();
      board.stop();
    })());
  return { node: config.node, link, board, loop, workers, ended: link.ended, stop };
}

/** Local processes (their logs under <dataDir>/workers), and containers when the Docker source is on. */
function workerBackends(config: AgentConfig, dataDir: string, log: Logger): Partial<Record<WorkerBackend, Backend>> {
  const m = config.monitor;
  return {
    local: new LocalBackend({ logDir: join(dataDir, 'workers'), log: log.child({ part: 'workers', backend: 'local' }) }),
    ...(m.docker ? { docker: new DockerBackend({ ...(m.dockerHost ? { dockerHost: m.dockerHost } : {}), log: log.child({ part: 'workers', backend: 'docker' }) }) } : {}),
  };
}

/**
 * Each GPU process with its process group on this node: the hub, which cannot read this node's /proc, tells the
 * processes of the workers this agent started (each leads its own group) from unmanaged ones by it.
 */
export function withProcessGroups(s: ResourceStatus, groupOf: (pid: number) => number | null = (pid) => readStat(pid)?.pgrp ?? null): ResourceStatus {
  if (!s.gpus.some((g) => g.processes.length)) return s;
  return { ...s, gpus: s.gpus.map((g) => ({ ...g, processes: g.processes.map((p) => ({ ...p, processGroup: groupOf(p.pid) })) })) };
}
