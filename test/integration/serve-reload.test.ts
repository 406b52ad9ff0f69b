/**
 * `arbiter serve --config <file>` on SIGHUP: the file read again, the log level, the host's sample interval and the
 * health thresholds applied at once, an option that needs a restart named in the log; a file that does not load is
 * logged and the running configuration kept; SIGTERM still ends it within 2 s. A real process, its log read as the
 * JSON lines it writes when not on a terminal.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureServerBuild } from '../../bin/build.js';
import { exited, until } from '../helpers/cli-server.ts';

const BIN = new URL('../../bin/arbiter.js', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'arbiter-reload-'));
const configFile = join(dir, 'config.yaml');
let child: ChildProcess | undefined;

interface LogLine { level: number; msg: string; applied?: string[]; needRestart?: string[]; reason?: string }
const lines: LogLine[] = [];

beforeAll(() => ensureServerBuild(() => {}), 120_000);
afterAll(() => {
  if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

/** The log lines that came after `from` whose message matches. */
const logged = (from: number, re: RegExp) => until(() => lines.slice(from).find((l) => re.test(l.msg)), `a log line ${re}`, 10_000);

describe('arbiter serve on SIGHUP', () => {
  it('applies what can change live, names what needs a restart, keeps the running configuration when the file is bad', async () => {
    writeFileSync(configFile, 'logLevel: warn\nmonitor:\n  hostIntervalMs: 5000\n');
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('ARBITER_') && v !== undefined) env[k] = v;
    child = spawn(process.execPath, [BIN, 'serve', '--config', configFile, '--port', '0', '--data-dir', join(dir, 'data'), '--no-gpu', '--no-docker', '--no-web-build'],
      { env, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    let banner = '';
    child.stdout!.setEncoding('utf8').on('data', (c: string) => {
      out += c;
      for (;;) {
        const nl = out.indexOf('\n');
        if (nl < 0) break;
        const line = out.slice(0, nl);
        out = out.slice(nl + 1);
        if (line.startsWith('{')) lines.push(JSON.parse(line) as LogLine);
        else banner += `${line}\n`;
      }
    });
    const [base, token] = await until(() => {
      const m = /Dashboard: (http:\/\/127\.0\.0\.1:\d+)\/\?token=(\S+)/.exec(banner);
      return m ? [m[1]!, m[2]!] as const : undefined;
    }, 'the dashboard URL');
    const get = async <T>(path: string) => (await (await fetch(`${base}${path}`, { headers: { Authorization: `Bearer ${token}` } })).json()) as T;
    const hostSampledAt = async () => (await get<{ sources: { host: { lastSampleAt: number | null } } }>('/api/health')).sources.host.lastSampleAt;
    /** distinct host sample times seen within `ms` */
    const samplesWithin = async (ms: number) => {
      const seen = new Set<number>();
      const end = Date.now() + ms;
      while (Date.now() < end) {
        const t = await hostSampledAt();
        if (t !== null) seen.add(t);
        await new Promise((r) => setTimeout(r, 50));
      }
      return seen.size;
    };
    // at warn, the start's info lines are not written; one host sample in 5 s
    expect(lines.filter((l) => l.level < 40)).toEqual([]);
    expect(await samplesWithin(1200)).toBeLessThanOrEqual(2);

    // live: the log level, the host interval, the CPU thresholds; a lease default needs a restart (and --port, a flag, wins over the file)
    writeFileSync(configFile, 'logLevel: info\nscheduler:\n  leaseDefaultMs: 300000\nmonitor:\n  hostIntervalMs: 200\nhealth:\n  cpu: { warning: 0, critical: 0 }\n');
    let from = lines.length;
    child.kill('SIGHUP');
    const reloaded = await logged(from, /^configuration reloaded/);
    expect(reloaded.level).toBe(30);
    expect(reloaded.applied).toEqual(['logLevel', 'monitor.hostIntervalMs', 'health.cpu.warning', 'health.cpu.critical']);
    const restart = await logged(from, /need a restart/);
    expect(restart.level).toBe(40);
    expect(restart.needRestart).toEqual(['scheduler.leaseDefaultMs']);
    expect(await samplesWithin(1200)).toBeGreaterThanOrEqual(4);
    await until(async () => (await get<{ host: { cpu: { health: string } } | null }>('/api/status')).host?.cpu.health === 'critical', 'the CPU rated with the new thresholds', 5000);

    // a file that does not load: logged at error, the running configuration kept
    writeFileSync(configFile, 'logLevel: warn\nmonitor:\n  hostIntervalMs: fast\n');
    from = lines.length;
    child.kill('SIGHUP');
    const refused = await logged(from, /^configuration not reloaded/);
    expect(refused.level).toBe(50);
    expect(refused.reason).toBe(`invalid "monitor.hostIntervalMs" in ${configFile} "fast": expected an integer 100–3600000`);
    expect(await samplesWithin(1200)).toBeGreaterThanOrEqual(4);
    expect((await fetch(`${base}/api/health`)).status).toBe(200);

    // the file as it was before the bad one: nothing left to apply, so that is what ran all along
    writeFileSync(configFile, 'logLevel: info\nscheduler:\n  leaseDefaultMs: 300000\nmonitor:\n  hostIntervalMs: 200\nhealth:\n  cpu: { warning: 0, critical: 0 }\n');
    from = lines.length;
    child.kill('SIGHUP');
    expect((await logged(from, /^configuration reloaded/)).applied).toEqual([]);

    const stopAt = Date.now();
    child.kill('SIGTERM');
    await exited(child);
    expect(child.exitCode).toBe(0);
    expect(Date.now() - stopAt).toBeLessThan(2000);
  }, 60_000);
});
