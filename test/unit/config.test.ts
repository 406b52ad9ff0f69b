import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ConfigError, OPTIONS, loadConfig } from '../../server/config.ts';
import { exampleConfigYaml } from '../../server/docs.ts';

const dir = mkdtempSync(join(tmpdir(), 'arbiter-config-'));
function file(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

describe('config', () => {
  it('has documented defaults', () => {
    const c = loadConfig({}, {});
    expect(c.port).toBe(7070);
    expect(c.host).toBe('127.0.0.1');
    expect(c.dataDir).toBe(join(process.cwd(), '.arbiter'));
    expect(c.auth).toBe(true);
    expect(c.monitor.hostIntervalMs).toBe(1000);
    expect(c.health.cpu).toEqual({ warning: 85, critical: 95 });
    expect(c.push.heartbeatMs).toBeLessThanOrEqual(15_000);
    for (const o of OPTIONS) expect(o.doc.length).toBeGreaterThan(5);
  });

  it('has examples/config.yaml generated from config.ts (`npm run docs`): every option, the defaults but the data dir', () => {
    const path = fileURLToPath(new URL('../../examples/config.yaml', import.meta.url));
    const text = readFileSync(path, 'utf8');
    expect(text).toBe(exampleConfigYaml());
    const fromFile = loadConfig({ config: path }, {});
    expect({ ...fromFile, dataDir: '' }).toEqual({ ...loadConfig({}, {}), dataDir: '' });
    expect(fromFile.dataDir).toBe('/var/lib/arbiter');
    // the options without a default are there as comments
    for (const o of OPTIONS) expect(text, o.key).toMatch(new RegExp(`^\\s*(# )?${o.key.split('.').at(-1)}:`, 'm'));
  });

  it('takes flags over env over file over defaults', () => {
    const yaml = file('c.yaml', 'port: 7001\nhost: 0.0.0.0\nmonitor:\n  hostIntervalMs: 2000\nhealth:\n  cpu:\n    warning: 50\n');
    const fromFile = loadConfig({ config: yaml }, {});
    expect(fromFile.port).toBe(7001);
    expect(fromFile.host).toBe('0.0.0.0');
    expect(fromFile.monitor.hostIntervalMs).toBe(2000);
    expect(fromFile.health.cpu.warning).toBe(50);
    expect(fromFile.health.cpu.critical).toBe(95);

    const fromEnv = loadConfig({ config: yaml }, { ARBITER_PORT: '7002', ARBITER_HOST_INTERVAL_MS: '500' });
    expect(fromEnv.port).toBe(7002);
    expect(fromEnv.monitor.hostIntervalMs).toBe(500);
    expect(fromEnv.host).toBe('0.0.0.0');

    const fromFlags = loadConfig({ config: yaml, port: '7003' }, { ARBITER_PORT: '7002' });
    expect(fromFlags.port).toBe(7003);
  });

  it('reads the config file path from ARBITER_CONFIG and JSON files', () => {
    const json = file('c.json', JSON.stringify({ port: 7100, push: { replayCount: 50 } }));
    const c = loadConfig({}, { ARBITER_CONFIG: json });
    expect(c.port).toBe(7100);
    expect(c.push.replayCount).toBe(50);
  });

  it('accepts PORT when ARBITER_PORT is absent, ARBITER_PORT first', () => {
    expect(loadConfig({}, { PORT: '8080' }).port).toBe(8080);
    expect(loadConfig({}, { PORT: '8080', ARBITER_PORT: '9090' }).port).toBe(9090);
  });

  it('turns auth off with --no-auth or ARBITER_NO_AUTH=1', () => {
    expect(loadConfig({ auth: false }, {}).auth).toBe(false);
    expect(loadConfig({}, { ARBITER_NO_AUTH: '1' }).auth).toBe(false);
    expect(loadConfig({}, { ARBITER_NO_AUTH: '0' }).auth).toBe(true);
    expect(loadConfig({ config: file('a.json', '{"auth": false}') }, {}).auth).toBe(false);
  });

  it('stops with one line naming option, value and what is allowed', () => {
    const msg = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        expect(e).toBeInstanceOf(ConfigError);
        return (e as Error).message;
      }
      throw new Error('no error');
    };
    expect(msg(() => loadConfig({ port: 'abc' }, {}))).toBe('invalid --port "abc": expected an integer 0–65535');
    expect(msg(() => loadConfig({}, { ARBITER_PORT: '70000' }))).toBe('invalid ARBITER_PORT "70000": expected an integer 0–65535');
    expect(msg(() => loadConfig({}, { ARBITER_LOG_LEVEL: 'loud' }))).toMatch(/^invalid ARBITER_LOG_LEVEL "loud": expected one of fatal, error/);
    expect(msg(() => loadConfig({}, { ARBITER_NO_AUTH: 'maybe' }))).toMatch(/^invalid ARBITER_NO_AUTH "maybe"/);
    const bad = file('bad.yaml', 'monitor:\n  hostIntervalMs: 5\n');
    expect(msg(() => loadConfig({ config: bad }, {}))).toBe(`invalid "monitor.hostIntervalMs" in ${bad} "5": expected an integer 100–3600000`);
    expect(msg(() => loadConfig({ config: file('u.json', '{"prot": 1}') }, {}))).toMatch(/unknown option "prot"/);
    expect(msg(() => loadConfig({ config: join(dir, 'missing.yaml') }, {}))).toMatch(/cannot read it \(ENOENT\)/);
    expect(msg(() => loadConfig({}, { ARBITER_HEALTH_CPU_WARNING: '99' }))).toBe('invalid health thresholds for cpu: warning 99 must not exceed critical 95');
    // a token is never repeated, only the option named
    expect(msg(() => loadConfig({ token: 'short' }, {}))).toBe('invalid --token: expected at least 16 characters');
    expect(msg(() => loadConfig({}, { ARBITER_ADMIN_TOKEN: 'tiny' }))).toBe('invalid ARBITER_ADMIN_TOKEN: expected at least 16 characters');
  });

  describe('agents (the hub side)', () => {
    const AGENT = 'agent-token-0123456789';
    const msg = (f: () => unknown): string => {
      try {
        f();
      } catch (e) {
        expect(e).toBeInstanceOf(ConfigError);
        return (e as Error).message;
      }
      throw new Error('no error');
    };

    it('accepts no agent, waits 30 s before a node is unreachable, and counts its own machine by default', () => {
      expect(loadConfig({}, {}).agents).toEqual({ token: undefined, unreachableAfterMs: 30_000, localNode: true });
    });

    it('reads each from its flag, its environment variable and the config file, flags first', () => {
      expect(loadConfig({ agentToken: AGENT, unreachableAfterMs: '5000', localNode: false }, {}).agents)
        .toEqual({ token: AGENT, unreachableAfterMs: 5000, localNode: false });
      expect(loadConfig({}, { ARBITER_AGENT_TOKEN: AGENT, ARBITER_UNREACHABLE_AFTER_MS: '60000', ARBITER_NO_LOCAL_NODE: '1' }).agents)
        .toEqual({ token: AGENT, unreachableAfterMs: 60_000, localNode: false });
      expect(loadConfig({}, { ARBITER_NO_LOCAL_NODE: '0' }).agents.localNode).toBe(true);
      const yaml = file('agents.yaml', `agents:\n  token: ${AGENT}-file\n  unreachableAfterMs: 1000\n  localNode: false\n`);
      expect(loadConfig({ config: yaml }, {}).agents).toEqual({ token: `${AGENT}-file`, unreachableAfterMs: 1000, localNode: false });
      const both = loadConfig({ config: yaml, agentToken: `${AGENT}-flag` }, { ARBITER_AGENT_TOKEN: `${AGENT}-env`, ARBITER_UNREACHABLE_AFTER_MS: '2000' });
      expect(both.agents).toEqual({ token: `${AGENT}-flag`, unreachableAfterMs: 2000, localNode: false });
      expect(() => loadConfig({ config: file('agents-typo.json', '{"agents": {"tokn": "x"}}') }, {})).toThrow(/unknown option "agents.tokn"/);
    });

    it('refuses a short agent token without repeating it', () => {
      expect(msg(() => loadConfig({ agentToken: 'short-secret' }, {}))).toBe('invalid --agent-token: expected at least 16 characters');
      expect(msg(() => loadConfig({}, { ARBITER_AGENT_TOKEN: 'short-secret' }))).toBe('invalid ARBITER_AGENT_TOKEN: expected at least 16 characters');
      const yaml = file('agents-short.yaml', 'agents:\n  token: short-secret\n');
      expect(msg(() => loadConfig({ config: yaml }, {}))).toBe(`invalid "agents.token" in ${yaml}: expected at least 16 characters`);
    });

    it('refuses an unreachable delay outside 1 s – 1 day, naming the value', () => {
      for (const bad of ['999', '86400001', 'soon', '1.5']) {
        expect(msg(() => loadConfig({ unreachableAfterMs: bad }, {}))).toBe(`invalid --unreachable-after-ms "${bad}": expected an integer 1000–86400000`);
      }
      expect(msg(() => loadConfig({}, { ARBITER_NO_LOCAL_NODE: 'perhaps', ARBITER_AGENT_TOKEN: AGENT }))).toMatch(/^invalid ARBITER_NO_LOCAL_NODE "perhaps"/);
    });

    it('refuses an agent token that is also an API token, and a hub with no node at all, never repeating a token', () => {
      const same = msg(() => loadConfig({ agentToken: AGENT, token: AGENT }, {}));
      expect(same).toBe('invalid --agent-token: it must differ from --token (agents and users are told apart by their tokens)');
      const admin = msg(() => loadConfig({ agentToken: AGENT, adminToken: AGENT }, {}));
      expect(admin).toMatch(/must differ from --admin-token/);
      for (const m of [same, admin]) expect(m).not.toContain(AGENT);
      expect(msg(() => loadConfig({ localNode: false }, {}))).toBe('invalid --no-local-node: without --agent-token no agent may join, and the hub would have no node at all');
    });
  });
});
