/**
 * Out of file descriptors (a connection flood under a low `ulimit -n`), a spawn of the GPU source fails: the short
 * run rejects with EMFILE and the looping child counts an exit and waits to restart — neither ends the process (a
 * failed spawn has no pipes; reading them, or an 'error' nobody listened to, used to).
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

const SCRIPT = new URL('../helpers/emfile-spawn.ts', import.meta.url).pathname;
const REPO = new URL('../..', import.meta.url).pathname;
const prlimit = spawnSync('prlimit', ['--version'], { encoding: 'utf8' }).status === 0;

describe.skipIf(!prlimit)('spawning with no file descriptor left', () => {
  it('rejects the run and restarts the child later; the process goes on', () => {
    const r = spawnSync('prlimit', ['--nofile=256:256', process.execPath, '--import', 'tsx', SCRIPT], { cwd: REPO, encoding: 'utf8', timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { run: string; events: { kind: string; message: string }[] };
    expect(out.run).toBe('rejected: EMFILE');
    expect(out.events.map((e) => e.kind)).toEqual(['exit']);
    expect(out.events[0]!.message).toMatch(/EMFILE.*restarting in 60000 ms/);
  });
});
