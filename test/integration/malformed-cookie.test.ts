/**
 * A malformed token cookie (`arbiter_token=%E0%A4%A`, which decodeURIComponent refuses) is no token: on a socket.io
 * polling handshake and its CONNECT packet — sent by someone without any token — the server refuses the connection
 * and goes on serving (it used to end the process); on the API it is a 401, not a 500.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { exited, freePort, startCliServer } from '../helpers/cli-server.ts';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0).reverse()) c();
});

describe('a malformed token cookie', () => {
  it('on a socket.io polling handshake and its CONNECT: refused, the server goes on; on the API: 401', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'arbiter-cookie-'));
    cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
    const port = await freePort();
    const child: ChildProcess = await startCliServer({ port, dataDir, token: 'cookie-test-token-0123456789', onCleanup: (fn) => cleanups.push(fn) });
    const base = `http://127.0.0.1:${port}`;
    const cookie = { cookie: 'arbiter_token=%E0%A4%A' };

    const open = await fetch(`${base}/socket.io/?EIO=4&transport=polling`, { headers: cookie });
    expect(open.status).toBe(200);
    const sid = (JSON.parse((await open.text()).slice(1)) as { sid: string }).sid;
    // the CONNECT packet of the default namespace runs the auth middleware
    const connect = await fetch(`${base}/socket.io/?EIO=4&transport=polling&sid=${sid}`, { method: 'POST', headers: { ...cookie, 'content-type': 'text/plain;charset=UTF-8' }, body: '40' });
    expect(connect.status).toBe(200);
    // its answer: a connect_error (44) naming the refusal
    const answer = await (await fetch(`${base}/socket.io/?EIO=4&transport=polling&sid=${sid}`, { headers: cookie })).text();
    expect(answer).toMatch(/^44/);

    expect((await fetch(`${base}/api/health`)).status).toBe(200);
    const api = await fetch(`${base}/api/allocations`, { headers: cookie });
    expect(api.status).toBe(401);
    expect(child.exitCode).toBeNull();
    child.kill('SIGTERM');
    await exited(child);
  });
});
