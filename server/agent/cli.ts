/**
 * `arbiter agent`: monitor this node and report it to a hub until SIGTERM/SIGINT. Prints one line on stdout when
 * connected (`agent <node> connected to <hub>`) and one each time the link goes down or comes back. A bad option is
 * one line on stderr and exit 2; so is a handshake the hub refuses (wrong token, agents disabled, another protocol).
 * On SIGTERM/SIGINT it says `bye` to the hub, stops the monitor and exits 0, or 1 when that takes over 1.8 s.
 * No line repeats the token.
 */
import os from 'node:os';
import { resolve } from 'node:path';
import { AGENT_PROTOCOL, type HandshakeErrorKind } from '../../shared/agents.ts';
import { ConfigError, loadNodeMonitorConfig } from '../config.ts';
import { createLogger } from '../log.ts';
import { VERSION } from '../version.ts';
import { startAgent, type AgentConfig } from './agent.ts';
import type { LinkState } from './link.ts';
import { AgentOptionsError, resolveAgentOptions, resolveNodeName, type AgentOptions } from './options.ts';

const say = (line: string) => process.stderr.write(`arbiter agent: ${line}\n`);

/** What to do about each refusal of the hub. */
const ADVICE: Record<HandshakeErrorKind, string> = {
  disabled: 'the hub takes no agents until it is started with --agent-token',
  unauthorized: "this agent's token (--token or ARBITER_AGENT_TOKEN) is not the hub's --agent-token",
  invalidHello: "the hub could not read this agent's hello",
  protocol: `this agent speaks protocol ${AGENT_PROTOCOL} (Arbiter ${VERSION}): run the same Arbiter version on the hub and its agents`,
};

/** The line a change of the link's state prints on stdout (none for the end: that is the command's to say). */
function stateLine(s: LinkState, node: string, hub: string, everConnected: boolean): string | undefined {
  if (s.state === 'connected') return `agent ${node} ${s.again ? 'reconnected' : 'connected'} to ${hub}`;
  if (s.state === 'down') return everConnected ? `agent ${node} lost ${hub}: ${s.reason}; reconnecting` : `agent ${node} cannot reach ${hub}: ${s.reason}; retrying`;
  return undefined;
}

/**
 * @param flags the options the user gave (commander's strings, keyed by flagAttribute): the monitor's
 * (NODE_MONITOR_OPTIONS) and the agent's own; the token defaults to env ARBITER_AGENT_TOKEN
 */
export async function runAgentCommand(flags: Record<string, unknown>, env: Record<string, string | undefined>): Promise<void> {
  let config: AgentConfig;
  let logLevel: string;
  try {
    const monitor = loadNodeMonitorConfig(flags, env);
    const { workers, dataDir, advertiseHost, ...own } = resolveAgentOptions({
      hub: flags.hub, token: (flags.token as string | undefined) ?? (env.ARBITER_AGENT_TOKEN || undefined), ackTimeoutMs: flags.ackTimeoutMs,
      advertiseHost: flags.advertiseHost, dataDir: flags.dataDir, workers: flags.workers,
    } as AgentOptions);
    config = {
      ...own, node: resolveNodeName(monitor.nodeName, os.hostname()), monitor: monitor.monitor, health: monitor.health,
      dataDir: workers ? resolve(dataDir) : null, ...(advertiseHost ? { advertiseHost } : {}),
    };
    logLevel = monitor.logLevel;
  } catch (err) {
    if (err instanceof ConfigError || err instanceof AgentOptionsError) {
      say(err.message);
      process.exit(2);
    }
    throw err;
  }
  const { node, hub } = config;
  let everConnected = false;
  const onLinkState = (s: LinkState) => {
    const line = stateLine(s, node, hub, everConnected);
    if (s.state === 'connected') everConnected = true;
    if (line) process.stdout.write(`${line}\n`);
  };
  // the signals are taken from the start: the link may connect before the monitor's sources have started
  let stopping = false;
  const stop = (signal: string) => {
    // a repeated signal (a process group signalled twice, a second Ctrl-C) changes nothing: the deadline stands
    if (stopping) return;
    stopping = true;
    say(`${signal}, leaving ${hub}`);
    setTimeout(() => process.exit(1), 1800).unref();
    started.then((agent) => agent.stop()).then(() => process.exit(0), (err: unknown) => {
      say(`could not stop cleanly: ${err instanceof Error ? err.message : String(err)}`);
      process.exit(1);
    });
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  // the process lives until a signal or a refusal: the monitor's timers do not hold it open (the system clock unrefs
  // them), and between two connections the link may hold nothing that does
  setInterval(() => {}, 1 << 30);
  const started = startAgent(config, { log: createLogger(logLevel), onLinkState });
  const agent = await started;

  const end = await agent.ended;
  if (end.state !== 'refused' || stopping) return;
  say(`${hub} refused agent ${node}: ${end.message}; ${end.kind ? ADVICE[end.kind] : 'is it an Arbiter hub that takes agents?'}`);
  await agent.stop();
  process.exit(2);
}
