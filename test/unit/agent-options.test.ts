/** The agent's options (server/agent/options.ts) and its monitor's (config.ts loadNodeMonitorConfig). */
import { describe, expect, it } from 'vitest';
import { ConfigError, NODE_MONITOR_OPTIONS, loadNodeMonitorConfig } from '../../server/config.ts';
import { AgentOptionsError, resolveAgentOptions, resolveNodeName } from '../../server/agent/options.ts';

const TOKEN = 'agent-options-token-0123456789';
const problem = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(AgentOptionsError);
    return (err as Error).message;
  }
  throw new Error('accepted');
};

describe('agent options', () => {
  it('takes the hub as its origin, the token, an ack timeout of 10 s, workers kept under ./.arbiter-agent by default', () => {
    expect(resolveAgentOptions({ hub: 'http://hub.lab:7070/', token: TOKEN })).toEqual({ hub: 'http://hub.lab:7070', token: TOKEN, ackTimeoutMs: 10_000, dataDir: './.arbiter-agent', workers: true });
    expect(resolveAgentOptions({ hub: 'https://hub.lab', token: TOKEN, ackTimeoutMs: '2500' }).ackTimeoutMs).toBe(2500);
    expect(resolveAgentOptions({ hub: 'https://hub.lab', token: TOKEN, advertiseHost: '10.0.0.7', workers: false })).toMatchObject({ advertiseHost: '10.0.0.7', workers: false });
    expect(problem(() => resolveAgentOptions({ hub: 'https://hub.lab', token: TOKEN, advertiseHost: 'a b' }))).toBe('--advertise-host: a host name or an IP address');
  });

  it('names each bad option by its flag, never repeating the token', () => {
    expect(problem(() => resolveAgentOptions({ hub: 'ftp://hub', token: 'short' }))).toBe(
      "--hub: expected an http:// or https:// URL; --token: at least 16 characters (the hub's --agent-token)");
    expect(problem(() => resolveAgentOptions({ hub: 'http://hub:7070/api?x=1', token: undefined as unknown as string, ackTimeoutMs: '5' }))).toBe(
      "--hub: expected the hub's base URL, e.g. http://hub:7070 (no path); --token: required (or env ARBITER_AGENT_TOKEN); --ack-timeout-ms: Too small: expected number to be >=100");
    expect(problem(() => resolveAgentOptions({ hub: 'http://hub', token: 'x'.repeat(2000) }))).not.toContain('xxxx');
  });

  it('names the node after the host unless told, and asks for --node-name when the hostname is no node name', () => {
    expect(resolveNodeName(undefined, 'gpu-01.lab')).toBe('gpu-01.lab');
    expect(resolveNodeName('n1', 'not a name')).toBe('n1');
    expect(problem(() => resolveNodeName(undefined, 'my laptop'))).toBe(
      `this host's name "my laptop" is not a node name (letters, digits and . _ - only, starting with a letter or digit, at most 63 characters): give one with --node-name`);
    expect(problem(() => resolveNodeName('-x', 'host'))).toMatch(/^--node-name "-x": letters, digits/);
  });
});

describe("the agent's monitor options", () => {
  it("are serve's sampling, health, node name and log level options, with the same defaults, flags and environment", () => {
    const keys = NODE_MONITOR_OPTIONS.map((o) => o.key);
    expect(keys).toEqual(expect.arrayContaining(['nodeName', 'logLevel', 'monitor.gpu', 'monitor.docker', 'monitor.nvidiaSmi', 'monitor.dockerHost', 'monitor.hostIntervalMs', 'health.cpu.warning']));
    expect(keys.filter((k) => /history|^port$|token|agents\./i.test(k))).toEqual([]);
    const c = loadNodeMonitorConfig({ noGpu: undefined, hostIntervalMs: '500' }, { ARBITER_NO_DOCKER: '1', ARBITER_HOST_INTERVAL_MS: '2000', ARBITER_NODE_NAME: 'n7' });
    expect(c).toMatchObject({ nodeName: 'n7', logLevel: 'info', monitor: { gpu: true, docker: false, hostIntervalMs: 500, nvidiaSmi: 'nvidia-smi' } });
    expect(loadNodeMonitorConfig({ gpu: false }, {}).monitor.gpu).toBe(false);
    expect(() => loadNodeMonitorConfig({ healthCpuWarning: '99', healthCpuCritical: '90' }, {})).toThrow(ConfigError);
  });
});
