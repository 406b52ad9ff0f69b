/**
 * Roles and named tokens through the real CLI: `arbiter token create|list|revoke` beside a running `serve`, each
 * role's rights over HTTP and push, a bound token kept to its own owner (403), the tokens API, and the configured
 * --token / --admin-token acting as operator / admin.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { io } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exited, freePort, startCliServer, until } from '../helpers/cli-server.ts';

const run = promisify(execFile);
const BIN = new URL('../../bin/arbiter.js', import.meta.url).pathname;
const API_TOKEN = 'roles-api-token-0123456789';
const ADMIN_TOKEN = 'roles-admin-token-0123456789';
const cleanups: (() => void)[] = [];
let base = '';
let dataDir = '';
const tokens: Record<string, string> = {};

async function cli(...args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [BIN, 'token', ...args, '--data-dir', dataDir], { env: { ...process.env, ARBITER_NO_WEB_BUILD: '1' } });
    return { stdout, stderr, code: 0 };
  } catch (e) {
    const err = e as { stdout: string; stderr: string; code: number };
    return { stdout: err.stdout, stderr: err.stderr, code: err.code };
  }
}

async function api(token: string, method: string, path: string, body?: unknown) {
  const res = await fetch(`${base}${path}`, {
    method, headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : undefined };
}

const ask = (owner: string) => ({ owner, resources: { cpu: 100 } });

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'arbiter-roles-'));
  cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
  const port = await freePort();
  const child = await startCliServer({ port, dataDir, token: API_TOKEN, args: ['--admin-token', ADMIN_TOKEN], onCleanup: (fn) => cleanups.push(fn) });
  cleanups.push(() => child.kill('SIGKILL'));
  base = `http://127.0.0.1:${port}`;
  for (const [name, role, extra] of [['alice', 'operator', []], ['bob', 'operator', []], ['ci', 'operator', ['--any-owner']], ['vera', 'viewer', []], ['ada', 'admin', []]] as const) {
    const r = await cli('create', '--name', name, '--role', role, ...extra);
    expect(r.code, r.stderr).toBe(0);
    tokens[name] = r.stdout.trim();
  }
}, 60_000);
afterAll(async () => {
  for (const c of cleanups.splice(0).reverse()) c();
});

describe('named tokens made by the CLI beside the running server', () => {
  it('are known to it, hashed at rest, and listed without the token', async () => {
    for (const t of Object.values(tokens)) expect(t).toMatch(/^arb_/);
    const session = await until(async () => {
      const r = await api(tokens.alice!, 'GET', '/api/session');
      return r.status === 200 && r.json;
    }, 'alice known to the server');
    expect(session).toEqual({ auth: true, admin: false, role: 'operator', name: 'alice', owner: 'alice' });
    expect((await api(tokens.ci!, 'GET', '/api/session')).json).toEqual({ auth: true, admin: false, role: 'operator', name: 'ci' });
    const db = ['arbiter.db', 'arbiter.db-wal'].filter((f) => existsSync(join(dataDir, f))).map((f) => readFileSync(join(dataDir, f)).toString('latin1')).join('');
    for (const t of Object.values(tokens)) expect(db).not.toContain(t.slice(4));
    const list = await cli('list', '--json');
    const listed = JSON.parse(list.stdout).tokens as { name: string; role: string; bindOwner: boolean }[];
    expect(listed.map((t) => [t.name, t.role, t.bindOwner])).toEqual([['alice', 'operator', true], ['bob', 'operator', true], ['ci', 'operator', false], ['vera', 'viewer', true], ['ada', 'admin', true]]);
    expect(list.stdout).not.toContain('arb_');
    expect((await cli('create', '--name', 'alice', '--role', 'viewer')).code).toBe(1);
    expect((await cli('create', '--name', 'x y', '--role', 'viewer')).stderr).toMatch(/name: letters, digits/);
    expect((await cli('create', '--name', 'z', '--role', 'root')).stderr).toMatch(/role:/);
  });
});

describe('what each role may do', () => {
  it('a viewer reads and subscribes, and may not change anything', async () => {
    const vera = tokens.vera!;
    expect((await api(vera, 'GET', '/api/queue')).status).toBe(200);
    expect((await api(vera, 'GET', '/api/allocations')).status).toBe(200);
    const refused = await api(vera, 'POST', '/api/requests', ask('vera'));
    expect(refused).toMatchObject({ status: 403, json: { error: { code: 'forbidden', details: { required: 'operator', role: 'viewer' } } } });
    expect((await api(vera, 'PUT', '/api/strategy', { name: 'fair_sharing' })).status).toBe(403);
    const sse = await fetch(`${base}/api/events?types=hint`, { headers: { authorization: `Bearer ${vera}` } });
    expect(sse.status).toBe(200);
    await sse.body?.cancel();
    const socket = io(base, { transports: ['websocket'], auth: { token: vera }, reconnection: false });
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('connect', () => resolve());
        socket.once('connect_error', reject);
      });
    } finally {
      socket.disconnect();
    }
  });

  it('a bound operator submits and releases only for its owner; an unbound one for anyone', async () => {
    const mine = await api(tokens.alice!, 'POST', '/api/requests', ask('alice'));
    expect(mine.status).toBe(201);
    expect((await api(tokens.alice!, 'POST', '/api/requests', ask('bob'))).json).toMatchObject({ error: { code: 'not_owner' } });
    const bobs = await api(tokens.bob!, 'POST', '/api/requests', ask('bob'));
    expect(bobs.status).toBe(201);
    const bobAlloc = bobs.json.allocation.id as string;
    expect(await api(tokens.alice!, 'DELETE', `/api/allocations/${bobAlloc}`)).toMatchObject({ status: 403, json: { error: { code: 'not_owner' } } });
    expect((await api(tokens.alice!, 'POST', `/api/allocations/${bobAlloc}/renew`, {})).status).toBe(403);
    expect((await api(tokens.alice!, 'DELETE', `/api/requests/${bobs.json.request.id}`)).status).toBe(403);
    expect((await api(tokens.alice!, 'DELETE', '/api/allocations/no-such-allocation')).status).toBe(404);
    expect((await api(tokens.alice!, 'DELETE', `/api/allocations/${mine.json.allocation.id}`)).status).toBe(200);
    expect((await api(tokens.bob!, 'DELETE', `/api/allocations/${bobAlloc}`)).status).toBe(200);
    const forBob = await api(tokens.ci!, 'POST', '/api/requests', ask('bob'));
    expect(forBob.status).toBe(201);
    expect((await api(tokens.ci!, 'DELETE', `/api/allocations/${forBob.json.allocation.id}`)).status).toBe(200);
    // the specification's allocate: a bound token's requests are its owner's, whatever the task
    const rs = await api(tokens.alice!, 'POST', '/api/resource-scheduler/allocate', { task_id: 'train-7', resource_type: 'memory', requested_amount: 64, priority: 3 });
    expect(rs.json.request.owner).toBe('alice');
    expect((await api(tokens.alice!, 'PUT', '/api/strategy', { name: 'fair_sharing' })).status).toBe(403);
  });

  it('the configured tokens: --token operates, --admin-token administers', async () => {
    expect((await api(API_TOKEN, 'GET', '/api/session')).json).toEqual({ auth: true, admin: false, role: 'operator' });
    const any = await api(API_TOKEN, 'POST', '/api/requests', ask('someone'));
    expect(any.status).toBe(201);
    expect((await api(API_TOKEN, 'PUT', '/api/strategy', { name: 'fair_sharing' })).status).toBe(403);
    expect((await api(API_TOKEN, 'GET', '/api/tokens')).status).toBe(403);
    expect((await api(ADMIN_TOKEN, 'PUT', '/api/strategy', { name: 'fair_sharing' })).status).toBe(200);
    expect((await api(ADMIN_TOKEN, 'DELETE', `/api/allocations/${any.json.allocation.id}`)).status).toBe(200);
  });

  it('an admin token manages tokens over HTTP; a revoked token is refused', async () => {
    const ada = tokens.ada!;
    expect((await api(ada, 'PUT', '/api/strategy', { name: 'priority_based' })).status).toBe(200);
    const made = await api(ada, 'POST', '/api/tokens', { name: 'dora', role: 'viewer' });
    expect(made).toMatchObject({ status: 201, json: { name: 'dora', role: 'viewer', bindOwner: true, revokedAt: null, token: expect.stringMatching(/^arb_/) } });
    expect((await api(made.json.token, 'GET', '/api/queue')).status).toBe(200);
    expect((await api(ada, 'POST', '/api/tokens', { name: 'dora', role: 'viewer' })).status).toBe(409);
    expect((await api(ada, 'POST', '/api/tokens', { name: 'eve', role: 'root' }))).toMatchObject({ status: 400, json: { error: { details: [{ field: 'role' }] } } });
    const listed = await api(ada, 'GET', '/api/tokens');
    expect(JSON.stringify(listed.json)).not.toContain('arb_');
    expect((await api(ada, 'DELETE', '/api/tokens/dora')).json).toMatchObject({ name: 'dora', revokedAt: expect.any(Number) });
    expect((await api(made.json.token, 'GET', '/api/queue')).status).toBe(401);
    expect((await api(ada, 'DELETE', '/api/tokens/dora')).status).toBe(409);
    expect((await api(ada, 'DELETE', '/api/tokens/nobody')).status).toBe(404);
    // revoked by the CLI beside the server: refused within the reload interval
    expect((await cli('revoke', 'bob')).code).toBe(0);
    await until(async () => (await api(tokens.bob!, 'GET', '/api/queue')).status === 401, 'bob refused after the revoke', 20_000);
    expect((await cli('revoke', 'bob')).code).toBe(1);
  });
});

describe('a server without --admin-token', () => {
  it('gives its API token every right, as before roles', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'arbiter-roles-one-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const port = await freePort();
    const child = await startCliServer({ port, dataDir: dir, token: API_TOKEN, onCleanup: (fn) => cleanups.push(fn) });
    const r = await fetch(`http://127.0.0.1:${port}/api/strategy`, { method: 'PUT', headers: { authorization: `Bearer ${API_TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'fair_sharing' }) });
    expect(r.status).toBe(200);
    child.kill('SIGTERM');
    await exited(child);
  });
});
