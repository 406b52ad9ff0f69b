/**
 * An agent: this node's monitor as `arbiter serve` runs it (the loop with host, GPU and container sources, the status
 * board attached to it), with every snapshot the board publishes handed to the link to the hub.
 */
import type { NodeMonitorConfig } from '../config.ts';
import { systemClock, type Clock } from '../clock.ts';
import type { Logger } from '../log.ts';
import { History } from '../monitor/history.ts';
import type { MonitorLoop } from '../monitor/loop.ts';
import { StatusBoard, type NodeSamples } from '../monitor/status.ts';
import { nodeMonitor, type NodeSources } from '../runtime/node-monitor.ts';
import { AgentLink, type AgentLinkOptions, type LinkEnd, type LinkState } from './link.ts';

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
}

export interface Agent {
  readonly node: string;
  readonly link: AgentLink;
  readonly board: StatusBoard;
  readonly loop: MonitorLoop<NodeSamples>;
  /** the link's end: refused by the hub, or stopped */
  readonly ended: Promise<LinkEnd>;
  /** `bye` to the hub, then the monitor stops */
  stop(): Promise<void>;
}

export async function startAgent(config: AgentConfig, deps: AgentDeps): Promise<Agent> {
  const clock = deps.clock ?? systemClock;
  const { log } = deps;
  const board = new StatusBoard(config.node, new History(HISTORY_SECONDS), clock);
  const link = new AgentLink({
    hub: config.hub, token: config.token, node: config.node, ackTimeoutMs: config.ackTimeoutMs,
    clock, log: log.child({ part: 'link' }), ...deps.link,
  });
  if (deps.onLinkState) link.onState(deps.onLinkState);
  board.onSnapshot((s) => link.send(s));
  const loop = nodeMonitor({ config, clock, log, board, sources: deps.sources });
  link.start();
  await loop.start();

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      await link.stop();
      await loop.stop();
      board.stop();
    })());
  return { node: config.node, link, board, loop, ended: link.ended, stop };
}
