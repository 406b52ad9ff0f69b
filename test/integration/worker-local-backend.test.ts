/**
 * The `local` worker backend on real processes: environment and output, both forms of cmd, exit statuses (reported
 * once), pause and resume of the whole group, stop with a grace, adoption by a second backend after the first is
 * closed, bounded logs. Every wait is on an event or a condition; every process started here is killed at the end
 * by its process group id (a worker's pid) or its pid.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, realpathSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../server/clock.ts';
import type { Exit, Launch, Running } from '../../server/runtime/workers/backend.ts';
import { LocalBackend, type LocalBackendOptions } from '../../server/runtime/workers/local.ts';
import { freePort } from '../../server/runtime/workers/ports.ts';
import { groupMembers, parseStat, readStat, type ProcStat } from '../../server/runtime/workers/proc.ts';
import { until } from '../helpers/cli-server.ts';

const LOCAL_TS = new URL('../../server/runtime/workers/local.ts', import.meta.url).pathname;
const dirs: string[] = [];
const backends: LocalBackend[] = [];
/** process groups (worker pids) and lone pids started here, with their start times */
const started: { pid: number; startTime: number; group: boolean }[] = [];

afterEach(async () => {
  for (const b of backends.splice(0)) await b.close();
  for (const p of started.splice(0)) {
    const s = readStat(p.pid);
    // the same process, or (for a group) its leader gone and only its group left: the pid is not another's yet
    if (s ? s.startTime !== p.startTime : !p.group) continue;
    try {
      process.kill(p.group ? -p.pid : p.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'arbiter-local-'));
  dirs.push(d);
  return d;
}

/** A backend whose exits are recorded; its log directory is a new temporary one unless given. */
function backend(opts: Partial<LocalBackendOptions> = {}): { b: LocalBackend; exits: Exits; logDir: string } {
  const logDir = opts.logDir ?? tmp();
  const b = new LocalBackend({ ...opts, logDir });
  backends.push(b);
  return { b, exits: new Exits(b), logDir };
}

class Exits {
  readonly seen: [string, Exit][] = [];
  private waiters: (() => void)[] = [];
  constructor(b: LocalBackend) {
    b.onExit((id, exit) => {
      this.seen.push([id, exit]);
      for (const w of this.waiters.splice(0)) w();
    });
  }

  /** The exit of `id`, once it is reported. */
  async of(id: string): Promise<Exit> {
    for (;;) {
      const hit = this.seen.find(([i]) => i === id);
      if (hit) return hit[1];
      await new Promise<void>((r) => this.waiters.push(r));
    }
  }

  count(id: string): number {
    return this.seen.filter(([i]) => i === id).length;
  }
}

function launch(id: string, cmd: string | string[], env: Record<string, string> = {}): Launch {
  return { id, group: id.replace(/-\d+$/, ''), replica: 0, spec: { cpu: 100, gpu: 0, mem: 64, cmd }, gpus: [], port: 4321, env };
}

async function start(b: LocalBackend, l: Launch): Promise<Running & { ref: { kind: 'local'; pid: number; startTime: number; logFile: string } }> {
  const r = await b.start(l);
  if (r.ref.kind !== 'local') throw new Error('not a local worker');
  started.push({ pid: r.ref.pid, startTime: r.ref.startTime, group: true });
  return r as Running & { ref: typeof r.ref };
}


/** Ended: no such process, or a zombie nobody has reaped yet. */
const gone = (pid: number): boolean => {
  const s = readStat(pid);
  return !s || s.state === 'Z';
};

/** The process the wrapper (`pid`) runs, once it runs `name` (not a fork of the wrapper still on its way to exec). */
const commandOf = (pid: number, name: string): Promise<ProcStat> =>
  until(() => groupMembers(pid).find((m) => m.ppid === pid && m.name === name), `${name} under ${pid}`);

/** Wait until the worker's log holds `line`. */
const logged = (b: LocalBackend, id: string, line: string): Promise<true> => until(async () => (await b.logs(id, 1000)).includes(line), `"${line}" in the log of ${id}`);

describe('local worker backend', () => {
  it('starts a command line with Arbiter\'s environment minus its secrets, plus the launch\'s; stdout and stderr in order in <logDir>/<id>.log', async () => {
    const saved = { ...process.env };
    Object.assign(process.env, { ARBITER_TOKEN: 'secret-api-token-0123', ARBITER_ADMIN_TOKEN: 'secret-admin-0123', ARBITER_AGENT_TOKEN: 'secret-agent-0123', WORKER_TEST_BASE: 'from arbiter' });
    const cwd = tmp();
    let made: ReturnType<typeof backend>;
    try {
      made = backend({ cwd });
    } finally {
      for (const k of ['ARBITER_TOKEN', 'ARBITER_ADMIN_TOKEN', 'ARBITER_AGENT_TOKEN', 'WORKER_TEST_BASE']) {
        if (saved[k] === undefined) delete process.env[k];
        else process.env[k] = saved[k];
      }
    }
    const { b, exits, logDir } = made;
    const cmd = [
      'echo "id=$ARBITER_WORKER_ID"',
      'echo "port=$ARBITER_PORT" >&2',
      'echo "cuda=$CUDA_VISIBLE_DEVICES"',
      'echo "custom=$CUSTOM" >&2',
      'echo "base=$WORKER_TEST_BASE"',
      'echo "secrets=${ARBITER_TOKEN-none},${ARBITER_ADMIN_TOKEN-none},${ARBITER_AGENT_TOKEN-none}" >&2',
      'echo "cwd=$(pwd -P) PWD=$PWD"',
    ].join('; ');
    const r = await start(b, launch('team/a-0', cmd, { CUSTOM: 'a value', ARBITER_WORKER_ID: 'team/a-0', ARBITER_PORT: '4321', CUDA_VISIBLE_DEVICES: '0,1' }));
    expect(r).toMatchObject({ id: 'team/a-0', host: '127.0.0.1', port: 4321, ref: { kind: 'local', logFile: join(logDir, 'team%2Fa-0.log') } });
    expect(r.ref.startTime).toBeGreaterThan(0);
    expect(await exits.of('team/a-0')).toEqual({ code: 0, signal: null });
    const lines = ['id=team/a-0', 'port=4321', 'cuda=0,1', 'custom=a value', 'base=from arbiter', 'secrets=none,none,none', `cwd=${realpathSync(cwd)} PWD=${cwd}`];
    expect(await b.logs('team/a-0', 100)).toEqual(lines);
    expect(await b.logs('team/a-0', 2)).toEqual(lines.slice(-2));
    expect(readFileSync(r.ref.logFile, 'utf8')).toBe(`${lines.join('\n')}\n`);
    expect(readFileSync(join(logDir, 'team%2Fa-0.exit'), 'utf8')).toBe('0\n');
    expect(await b.logs('nobody', 10)).toEqual([]);
  });

  it('runs an argv as it is (no shell), a string with /bin/sh -c', async () => {
    const { b, exits } = backend();
    await start(b, launch('argv-0', ['printf', '%s|%s\\n', 'two words', '$HOME']));
    await start(b, launch('line-0', 'echo one && echo $((1 + 2)) | tr 3 x'));
    expect(await exits.of('argv-0')).toEqual({ code: 0, signal: null });
    expect(await exits.of('line-0')).toEqual({ code: 0, signal: null });
    expect(await b.logs('argv-0', 10)).toEqual(['two words|$HOME']);
    expect(await b.logs('line-0', 10)).toEqual(['one', 'x']);
  });

  it('reports each exit once: a status, a death of the command by a signal, a signal to the whole group (the wrapper outlives it)', async () => {
    const { b, exits, logDir } = backend();
    await start(b, launch('three-0', 'exit 3'));
    const killed = await start(b, launch('killed-0', ['sleep', '1000']));
    const usr1 = await start(b, launch('usr1-0', ['sleep', '1000']));
    expect(await exits.of('three-0')).toEqual({ code: 3, signal: null });

    process.kill((await commandOf(killed.ref.pid, 'sleep')).pid, 'SIGKILL');
    expect(await exits.of('killed-0')).toEqual({ code: null, signal: 'SIGKILL' });
    expect(readFileSync(join(logDir, 'killed-0.exit'), 'utf8')).toBe('137\n');

    await commandOf(usr1.ref.pid, 'sleep');
    process.kill(-usr1.ref.pid, 'SIGUSR1');
    expect(await exits.of('usr1-0')).toEqual({ code: null, signal: 'SIGUSR1' });
    expect(readFileSync(join(logDir, 'usr1-0.exit'), 'utf8')).toBe('138\n');

    // ended ones: stop, pause and resume do nothing; an unknown id neither
    await b.stop('three-0', 1000);
    await b.pause('killed-0');
    await b.resume('usr1-0');
    await b.stop('nobody', 1000);
    // a later exit as a barrier: nothing more came for the first three
    await start(b, launch('last-0', 'exit 0'));
    await exits.of('last-0');
    expect(exits.seen.map(([id]) => id).sort()).toEqual(['killed-0', 'last-0', 'three-0', 'usr1-0']);
  });

  it('kills what is left of a worker\'s group once its command has ended', async () => {
    const { b, exits } = backend();
    await start(b, launch('bg-0', 'sleep 1000 & echo "$!"'));
    expect(await exits.of('bg-0')).toEqual({ code: 0, signal: null });
    const [line] = await b.logs('bg-0', 1);
    const pid = Number(line);
    expect(pid).toBeGreaterThan(0);
    await until(() => gone(pid), `the background sleep ${pid} to end`);
  });

  it('pauses and resumes the whole process group (state T in /proc)', async () => {
    const { b, exits } = backend();
    const r = await start(b, launch('pause-0', 'sleep 1000 & sleep 1000; wait'));
    // the wrapper, the shell, two sleeps (exec'd: a shell waiting for its vfork()ed child to exec shows as D, not T)
    const members = await until(() => {
      const m = groupMembers(r.ref.pid);
      return m.length === 4 && m.filter((p) => p.name === 'sleep').length === 2 && m;
    }, 'the four processes of the group');
    await b.pause('pause-0');
    await until(() => members.every((m) => readStat(m.pid)?.state === 'T'), 'every process stopped');
    await b.resume('pause-0');
    await until(() => members.every((m) => readStat(m.pid)?.state !== 'T'), 'every process running again');
    await b.stop('pause-0', 10_000);
    expect(await exits.of('pause-0')).toEqual({ code: null, signal: 'SIGTERM' });
    await until(() => members.every((m) => gone(m.pid)), 'every process of the group to end');
  });

  it('stops: one that ends on SIGTERM within the grace, one that ignores it by SIGKILL after the grace, a paused one', async () => {
    const clock = new ManualClock();
    const { b, exits } = backend({ clock });

    await start(b, launch('polite-0', 'trap "echo bye; exit 0" TERM; echo ready; sleep 1000 & wait'));
    await logged(b, 'polite-0', 'ready');
    await b.stop('polite-0', 5000); // the clock does not move: no SIGKILL was needed
    expect(await exits.of('polite-0')).toEqual({ code: 0, signal: null });
    expect(await b.logs('polite-0', 1)).toEqual(['bye']);
    expect(clock.pendingTimers()).toBe(0);

    const deaf = await start(b, launch('deaf-0', 'trap "" TERM; echo ready; sleep 1000'));
    await logged(b, 'deaf-0', 'ready');
    let stopped = false;
    const stopping = b.stop('deaf-0', 5000).then(() => (stopped = true));
    await clock.advance(4999);
    expect(stopped).toBe(false);
    expect(gone(deaf.ref.pid)).toBe(false);
    await clock.advance(1);
    await stopping;
    expect(await exits.of('deaf-0')).toEqual({ code: null, signal: 'SIGKILL' });

    const paused = await start(b, launch('paused-0', ['sleep', '1000']));
    const cmd = await commandOf(paused.ref.pid, 'sleep');
    await b.pause('paused-0');
    await until(() => readStat(cmd.pid)?.state === 'T' && readStat(paused.ref.pid)?.state === 'T', 'the paused worker');
    await b.stop('paused-0', 5000); // SIGTERM, then SIGCONT: it ends without the SIGKILL
    expect(await exits.of('paused-0')).toEqual({ code: null, signal: 'SIGTERM' });
    expect(exits.seen.map(([id]) => id)).toEqual(['polite-0', 'deaf-0', 'paused-0']);
  });

  it('adopts after a restart: alive ones watched again, ones that ended unseen reported once with their status, a reused pid not taken', async () => {
    const a = backend();
    const keep = await start(a.b, launch('keep-0', 'trap "exit 5" USR1; echo hello; sleep 1000 & echo "bg $!"; echo ready; wait'));
    const term = await start(a.b, launch('term-0', ['sleep', '1000']));
    const unseen = await start(a.b, launch('unseen-0', 'trap "exit 4" USR1; echo ready; sleep 1000 & wait'));
    await logged(a.b, 'keep-0', 'ready');
    await logged(a.b, 'unseen-0', 'ready');
    await commandOf(term.ref.pid, 'sleep');
    await a.b.close();

    // ends while no backend watches
    process.kill((await commandOf(unseen.ref.pid, 'sh')).pid, 'SIGUSR1');
    await until(() => gone(unseen.ref.pid), 'the unseen worker to end');

    // another process has the pid of a worker Arbiter knew
    const stranger = spawn('sleep', ['1000'], { stdio: 'ignore' });
    const strangerStat = readStat(stranger.pid!)!;
    started.push({ pid: stranger.pid!, startTime: strangerStat.startTime, group: false });
    const reused: Running = { id: 'reused-0', host: '127.0.0.1', port: 4321, startedAt: 0, ref: { kind: 'local', pid: stranger.pid!, startTime: strangerStat.startTime - 1, logFile: join(a.logDir, 'reused-0.log') } };

    const { b, exits } = backend({ logDir: a.logDir, pollMs: 20 });
    const known = [keep, term, unseen, reused];
    const { alive, strangers } = await b.adopt(known);
    expect(alive.map((r) => r.id)).toEqual(['keep-0', 'term-0']);
    expect(strangers).toEqual([]);
    expect(exits.seen).toEqual([['unseen-0', { code: 4, signal: null }], ['reused-0', { code: null, signal: null }]]);
    expect(readStat(stranger.pid!)).toMatchObject({ startTime: strangerStat.startTime });
    expect(a.exits.seen).toEqual([]); // the closed backend reports nothing

    // its log, as it was before the restart
    expect(await b.logs('keep-0', 10)).toEqual(['hello', expect.stringMatching(/^bg \d+$/), 'ready']);
    const bg = Number((await b.logs('keep-0', 2))[0]!.slice(3));

    // an adopted worker ends: found by polling, its status from the .exit file, what is left of its group killed
    process.kill((await commandOf(keep.ref.pid, 'sh')).pid, 'SIGUSR1');
    expect(await exits.of('keep-0')).toEqual({ code: 5, signal: null });
    await until(() => gone(bg), `the background sleep ${bg} of keep-0 to end`);
    expect(await b.logs('keep-0', 10)).toEqual(['hello', `bg ${bg}`, 'ready']);

    // an adopted worker pauses, resumes, stops
    await b.pause('term-0');
    await until(() => readStat(term.ref.pid)?.state === 'T', 'term-0 paused');
    await b.resume('term-0');
    await until(() => readStat(term.ref.pid)?.state !== 'T', 'term-0 running again');
    await b.stop('term-0', 60_000);
    expect(await exits.of('term-0')).toEqual({ code: null, signal: 'SIGTERM' });

    // the stranger is left alone
    await b.stop('reused-0', 0);
    expect(readStat(stranger.pid!)).toMatchObject({ startTime: strangerStat.startTime });

    // adopting the same records again reports nothing more
    expect(await b.adopt(known)).toEqual({ alive: [], strangers: [] });
    for (const id of ['keep-0', 'term-0', 'unseen-0', 'reused-0']) expect(exits.count(id)).toBe(1);
  });

  it('a worker outlives an Arbiter killed with SIGKILL (no pipe between them) and is adopted, its status kept', async () => {
    const logDir = tmp();
    // an Arbiter of its own: starts one worker, prints it, stays up until killed
    const script = `
      const { LocalBackend } = await import(process.argv[1]);
      const b = new LocalBackend({ logDir: process.argv[2] });
      const cmd = 'trap "echo after; exit 6" USR1; echo ready; sleep 1000 & wait';
      const r = await b.start({ id: 'orphan-0', group: 'orphan', replica: 0, spec: { cpu: 0, gpu: 0, mem: 0, cmd }, gpus: [], port: 4321, env: {} });
      console.log(JSON.stringify(r));
      setInterval(() => {}, 60_000);`;
    const parent = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, LOCAL_TS, logDir], { stdio: ['ignore', 'pipe', 'inherit'] });
    started.push({ pid: parent.pid!, startTime: readStat(parent.pid!)!.startTime, group: false });
    let out = '';
    parent.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
    const closed = new Promise((r) => parent.once('close', r));
    const line = await until(() => /^(\{.*\})\n/.exec(out)?.[1], 'the worker the other Arbiter started');
    const r = JSON.parse(line) as Running;
    if (r.ref.kind !== 'local') throw new Error('not a local worker');
    started.push({ pid: r.ref.pid, startTime: r.ref.startTime, group: true });
    const ref = r.ref;

    parent.kill('SIGKILL');
    await closed; // its pipes closed: the worker holds none of them
    const { b, exits } = backend({ logDir, pollMs: 20 });
    expect(await b.logs('orphan-0', 10)).toEqual([]); // unknown here until adopted
    expect((await b.adopt([r])).alive).toEqual([r]);
    await logged(b, 'orphan-0', 'ready');
    expect(readStat(ref.pid)).toMatchObject({ startTime: ref.startTime, pgrp: ref.pid });

    process.kill((await commandOf(ref.pid, 'sh')).pid, 'SIGUSR1');
    expect(await exits.of('orphan-0')).toEqual({ code: 6, signal: null });
    expect(await b.logs('orphan-0', 10)).toEqual(['ready', 'after']);
  });

  it('keeps logs bounded: at most logLines lines from at most logBytes of the file; forget removes them', async () => {
    const { b, exits } = backend({ logLines: 100, logBytes: 64 * 1024 });
    const many = await start(b, launch('many-0', 'i=0; while [ $i -lt 20000 ]; do echo "line $i"; i=$((i + 1)); done'));
    await start(b, launch('long-0', 'head -c 1000000 /dev/zero | tr "\\0" x; echo; echo end'));
    await start(b, launch('huge-0', 'head -c 1000000 /dev/zero | tr "\\0" x'));
    for (const id of ['many-0', 'long-0', 'huge-0']) expect(await exits.of(id)).toEqual({ code: 0, signal: null });
    expect(statSync(many.ref.logFile).size).toBeGreaterThan(64 * 1024);

    const last = await b.logs('many-0', 100_000);
    expect(last).toHaveLength(100);
    expect(last[0]).toBe('line 19900');
    expect(last.at(-1)).toBe('line 19999');
    expect(await b.logs('many-0', 3)).toEqual(['line 19997', 'line 19998', 'line 19999']);
    // a line cut by the byte limit is left out, unless it is the only one
    expect(await b.logs('long-0', 10)).toEqual(['end']);
    expect(await b.logs('huge-0', 10)).toEqual(['x'.repeat(64 * 1024)]);

    b.forget('many-0');
    expect(await b.logs('many-0', 10)).toEqual([]);
    expect(existsSync(many.ref.logFile)).toBe(false);
  });

  it('does not start without its working directory, nor twice under one id; forget refuses a running worker', async () => {
    const bad = backend({ cwd: join(tmp(), 'missing') });
    await expect(bad.b.start(launch('nowhere-0', 'exit 0'))).rejects.toThrow(/nowhere-0 did not start/);

    const { b } = backend();
    await start(b, launch('twice-0', ['sleep', '1000']));
    await expect(b.start(launch('twice-0', ['sleep', '1000']))).rejects.toThrow(/twice-0 is running already/);
    expect(() => b.forget('twice-0')).toThrow(/running/);
    await b.stop('twice-0', 5000);
  });

  it('reads /proc/<pid>/stat with a command name holding spaces and parentheses', () => {
    const line = '4242 (a (b) c) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 100 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n';
    expect(parseStat(line)).toEqual({ pid: 4242, name: 'a (b) c', state: 'S', ppid: 1, pgrp: 4242, startTime: 987654 });
    expect(parseStat('garbage')).toBeNull();
    expect(readStat(process.pid)).toMatchObject({ pid: process.pid, ppid: process.ppid });
  });

  it('freePort: a port that can be bound on 127.0.0.1', async () => {
    const port = await freePort('127.0.0.1');
    expect(port).toBeGreaterThan(0);
    const server = createServer();
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, '127.0.0.1', resolve));
    await new Promise((r) => server.close(r));
  });
});
