/**
 * Workflows end to end on real processes: a real server with the local worker backend; each job a shell command
 * run as a worker when its parents have succeeded. The reference's curl examples with its answers' shapes, a chain,
 * a diamond, fan-out / fan-in whose two branches must run at the same time (each waits for the other to have
 * started), a failing job retried then FAILED with its descendants SKIPPED, a timeout, cancel mid-run (nothing left
 * running), manual jobs completed by POST, every validation error, and Arbiter killed with -9 mid-workflow
 * (resumed after the restart; no job runs twice).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { User, Workflow, WorkflowCreated } from '../../shared/workflows.ts';
import { exited, freePort, startCliServer, until } from '../helpers/cli-server.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A scratch directory the jobs write into (their runs, their order). */
function scratch(): string {
  const dir = mkdtempSync(join(tmpdir(), 'arbiter-wf-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function server(configure: (c: TestServer['app']['config']) => void = () => {}): Promise<TestServer> {
  const s = await startTestServer({
    configure: (c) => {
      c.resources = { cpu: 8000, memoryMiB: 16_384, gpus: [{ index: 0, memoryMiB: 16_384 }] };
      c.workers.graceMs = 2000;
      configure(c);
    },
  });
  cleanups.push(async () => {
    for (const name of s.app.workers.liveGroups()) await s.app.workers.delete(name).catch(() => {});
    await s.close();
  });
  return s;
}

interface Api {
  call<T = unknown>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }>;
}
const api = (s: { url: string; token: string }): Api => ({
  async call(method, path, body) {
    const res = await fetch(`${s.url}${path}`, {
      method, headers: { authorization: `Bearer ${s.token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    return { status: res.status, body: await res.json() };
  },
});

async function user(a: Api, username: string): Promise<User> {
  const r = await a.call<User>('POST', '/users/', { username });
  expect(r.status).toBe(201);
  return r.body;
}

async function submit(a: Api, body: unknown): Promise<string> {
  const r = await a.call<WorkflowCreated>('POST', '/workflows/', body);
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return r.body.workflow_id;
}

const get = async (a: Api, id: string) => (await a.call<Workflow>('GET', `/workflows/${id}`)).body;
const ended = (a: Api, id: string, status = 'SUCCEEDED', timeoutMs = 30_000) =>
  until(async () => {
    const w = await get(a, id);
    return ['SUCCEEDED', 'FAILED', 'CANCELLED'].includes(w.status) ? w : undefined;
  }, `workflow ${id} ends`, timeoutMs).then((w) => {
    expect(w.status, JSON.stringify(w.jobs.map((j) => [j.name, j.status, j.why]))).toBe(status);
    return w;
  });

/** A job that appends its name to `<dir>/order` (and counts its runs in `<dir>/<name>.runs`). */
const step = (dir: string, name: string, parents: number[], branch: number | string = 0, more = '') => ({
  name, job_type: 'step', branch_id: branch, parent_indices: parents,
  resources: { cpu: 100 },
  run: { cmd: `echo ${name} >> ${dir}/${name}.runs; ${more} echo ${name} >> ${dir}/order; echo done ${name}` },
});
const lines = (file: string) => (existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n').filter(Boolean) : []);

describe('the reference API, its paths and answers', () => {
  it('users: 201 with id, username and created_at; a taken name 409; GET by id; 404 for an unknown one', async () => {
    const s = await server();
    const a = api(s);
    const ana = await user(a, 'ana');
    expect(ana).toEqual({ id: expect.stringMatching(/^[0-9a-f-]{36}$/), username: 'ana', created_at: expect.any(String) });
    expect(new Date(ana.created_at).toISOString()).toBe(ana.created_at);
    const taken = await a.call<{ detail: string; error: { code: string } }>('POST', '/users/', { username: 'ana' });
    expect(taken.status).toBe(409);
    expect(taken.body.detail).toMatch(/taken/);
    expect(taken.body.error.code).toBe('username_taken');
    expect((await a.call('GET', `/users/${ana.id}`)).body).toEqual(ana);
    expect((await a.call('GET', `/api/users/${ana.id}`)).body).toEqual(ana);
    expect((await a.call('GET', '/users/no-such-id')).status).toBe(404);
    // without the trailing slash, as FastAPI's redirect would take a client
    expect((await a.call('POST', '/users', { username: 'bo' })).status).toBe(201);
    expect((await a.call('POST', '/users/', {})).status).toBe(400);
  });

  it('the reference\'s three-job workflow (storage only: manual jobs): 201 {workflow_id, job_count}, then completed by POST in order', async () => {
    const s = await server();
    const a = api(s);
    const u = await user(a, 'ana');
    const id = await submit(a, {
      user_id: u.id, name: 'tiles',
      jobs: [
        { name: 'tile', job_type: 'tiling', branch_id: 0, parent_indices: [] },
        { name: 'infer', job_type: 'inference', branch_id: 0, parent_indices: [0] },
        { name: 'merge', job_type: 'postprocess', branch_id: 0, parent_indices: [1] },
      ],
    });
    let w = await get(a, id);
    expect(w).toMatchObject({ id, user_id: u.id, username: 'ana', name: 'tiles', status: 'RUNNING', job_count: 3 });
    expect(w.jobs.map((j) => [j.index, j.name, j.job_type, j.branch_id, j.parent_indices, j.status, j.manual, j.depth])).toEqual([
      [0, 'tile', 'tiling', 0, [], 'READY', true, 0], [1, 'infer', 'inference', 0, [0], 'PENDING', true, 1], [2, 'merge', 'postprocess', 0, [1], 'PENDING', true, 2],
    ]);
    // a job whose parents have not succeeded cannot be completed
    expect((await a.call('POST', `/workflows/${id}/jobs/1/complete`, { status: 'SUCCEEDED' })).status).toBe(409);
    expect((await a.call('POST', `/workflows/${id}/jobs/0/complete`, { status: 'SUCCEEDED', result: { tiles: 12 } })).status).toBe(200);
    expect((await a.call('POST', `/workflows/${id}/jobs/0/complete`, { status: 'SUCCEEDED' })).status).toBe(409);
    expect((await a.call('POST', `/workflows/${id}/jobs/7/complete`, { status: 'SUCCEEDED' })).status).toBe(404);
    expect((await a.call('POST', `/workflows/${id}/jobs/1/complete`, { status: 'DONE' })).status).toBe(400);
    await a.call('POST', `/workflows/${id}/jobs/1/complete`, { status: 'SUCCEEDED' });
    w = (await a.call<Workflow>('POST', `/api/workflows/${id}/jobs/2/complete`, { status: 'SUCCEEDED' })).body;
    expect(w.status).toBe('SUCCEEDED');
    expect(w.jobs[0]!.result).toEqual({ tiles: 12 });
    expect(w.jobs.every((j) => j.ended_at !== null && j.started_at !== null)).toBe(true);
    const list = (await a.call<{ workflows: { id: string }[] }>('GET', `/workflows?user_id=${u.id}&status=SUCCEEDED`)).body.workflows;
    expect(list.map((x) => x.id)).toEqual([id]);
    expect((await a.call<{ workflows: unknown[] }>('GET', '/api/workflows?status=FAILED')).body.workflows).toEqual([]);
    expect((await a.call('GET', '/workflows/nope')).status).toBe(404);
  });

  it('the OpenAPI document has them under /api and at the reference paths (without the trailing slash, which they also answer), in a workflows section', async () => {
    const s = await server();
    const doc = (await api(s).call<{ paths: Record<string, Record<string, { tags: string[] }>> }>('GET', '/api/openapi.json')).body;
    for (const path of ['/users', '/users/{id}', '/workflows', '/workflows/{id}', '/workflows/{id}/retry', '/workflows/{id}/jobs/{index}/complete', '/api/users', '/api/workflows', '/api/workflows/{id}']) {
      expect(Object.values(doc.paths[path] ?? {}).map((op) => op.tags), path).not.toEqual([]);
      for (const op of Object.values(doc.paths[path]!)) expect(op.tags).toEqual(['workflows']);
    }
    expect(Object.keys(doc.paths['/workflows/{id}']!).sort()).toEqual(['delete', 'get']);
  });
});

describe('workflows on real worker processes', () => {
  it('a chain runs its jobs one after the other, a diamond joins after both sides', async () => {
    const s = await server();
    const a = api(s);
    const u = await user(a, 'ana');
    const dir = scratch();
    const chain = await submit(a, { user_id: u.id, jobs: [step(dir, 'a', []), step(dir, 'b', [0]), step(dir, 'c', [1])] });
    const w = await ended(a, chain);
    expect(lines(`${dir}/order`)).toEqual(['a', 'b', 'c']);
    expect(w.jobs.map((j) => [j.status, j.attempts, j.exit_code])).toEqual([['SUCCEEDED', 1, 0], ['SUCCEEDED', 1, 0], ['SUCCEEDED', 1, 0]]);
    expect(w.jobs[2]!.log_tail).toContain('done c');
    expect(w.jobs.every((j) => j.worker_id && j.allocation_id && j.request_id)).toBe(true);
    // its workers' requests were the user's
    expect(w.jobs.map((j) => s.app.engine.request(j.request_id!)?.owner)).toEqual(['ana', 'ana', 'ana']);

    const d2 = scratch();
    const diamond = await submit(a, { user_id: u.id, jobs: [step(d2, 'top', [], 'a'), step(d2, 'left', [0], 'a'), step(d2, 'right', [0], 'b'), step(d2, 'join', [1, 2], 'a')] });
    await ended(a, diamond);
    const order = lines(`${d2}/order`);
    expect(order[0]).toBe('top');
    expect(order.at(-1)).toBe('join');
    expect(order.slice(1, 3).sort()).toEqual(['left', 'right']);
  }, 60_000);

  it('gpuModels: a job runs on a GPU of its model (CUDA_VISIBLE_DEVICES); 400 without a GPU ask, 422 for a model no node has', async () => {
    const s = await server((c) => {
      c.resources = { cpu: 8000, memoryMiB: 16_384, gpus: [{ index: 0, memoryMiB: 16_384, name: 'Tesla T4' }, { index: 1, memoryMiB: 81_920, name: 'NVIDIA A100-SXM4-80GB' }] };
    });
    const a = api(s);
    const u = await user(a, 'ana');
    const dir = scratch();
    const job = (models: string[], resources: object = { gpus: 1 }) => ({
      name: 'train', job_type: 'step', branch_id: 0, parent_indices: [], resources: { ...resources, gpuModels: models },
      run: { cmd: `echo "$CUDA_VISIBLE_DEVICES" > ${dir}/gpus` },
    });
    const noGpu = await a.call<{ error: { details: { field: string }[] } }>('POST', '/workflows/', { user_id: u.id, jobs: [job(['A100'], { cpu: 100 })] });
    expect(noGpu.status).toBe(400);
    expect(noGpu.body.error.details.map((d) => d.field)).toEqual(['jobs.0.resources.gpuModels']);
    const nowhere = await a.call<{ error: { code: string; details: { field: string }[] } }>('POST', '/workflows/', { user_id: u.id, jobs: [job(['H100'])] });
    expect(nowhere.status).toBe(422);
    expect(nowhere.body.error).toMatchObject({ code: 'never_fits', details: [{ field: 'jobs.0.resources' }] });

    const id = await submit(a, { user_id: u.id, jobs: [job(['A100'])] });
    const w = await ended(a, id);
    expect(w.jobs[0]!.resources).toEqual({ cpu: 0, memoryMiB: 0, gpus: 1, gpuModels: ['A100'] });
    expect(lines(`${dir}/gpus`)).toEqual(['1']);
    expect(s.app.engine.request(w.jobs[0]!.request_id!)?.gpuModels).toEqual(['A100']);
  }, 60_000);

  it('fan-out / fan-in over two branches: the branches run at the same time', async () => {
    const s = await server();
    const a = api(s);
    const u = await user(a, 'ana');
    const dir = scratch();
    // each branch job says it started, then waits (up to 20 s) for the other to have started: run one after the other, they would fail
    const meet = (me: string, other: string) => `touch ${dir}/${me}.started; i=0; while [ ! -e ${dir}/${other}.started ]; do i=$((i+1)); [ $i -gt 200 ] && exit 3; sleep 0.1; done;`;
    const id = await submit(a, {
      user_id: u.id,
      jobs: [
        step(dir, 'split', [], 'main'),
        step(dir, 'left', [0], 'L', meet('left', 'right')),
        step(dir, 'right', [0], 'R', meet('right', 'left')),
        step(dir, 'merge', [1, 2], 'main'),
      ],
    });
    const w = await ended(a, id);
    expect(w.jobs.map((j) => j.status)).toEqual(['SUCCEEDED', 'SUCCEEDED', 'SUCCEEDED', 'SUCCEEDED']);
    expect(lines(`${dir}/order`).at(-1)).toBe('merge');
    const [l, r, m] = [w.jobs[1]!, w.jobs[2]!, w.jobs[3]!];
    expect(Date.parse(m.started_at!)).toBeGreaterThanOrEqual(Math.max(Date.parse(l.ended_at!), Date.parse(r.ended_at!)));
  }, 60_000);

  it('a failing job is retried, then FAILED: its descendants SKIPPED, the other branch finishes, the workflow FAILED; retry runs them again', async () => {
    const s = await server();
    const a = api(s);
    const u = await user(a, 'ana');
    const dir = scratch();
    const failing = { ...step(dir, 'flaky', [0], 'x', `[ -e ${dir}/fixed ] || { echo broken >&2; exit 4; };`), retries: 2 };
    const id = await submit(a, { user_id: u.id, jobs: [step(dir, 'root', []), failing, step(dir, 'after', [1], 'x'), step(dir, 'last', [2], 'x'), step(dir, 'other', [0], 'y')] });
    let w = await ended(a, id, 'FAILED');
    expect(w.jobs.map((j) => j.status)).toEqual(['SUCCEEDED', 'FAILED', 'SKIPPED', 'SKIPPED', 'SUCCEEDED']);
    expect(lines(`${dir}/flaky.runs`)).toHaveLength(3);
    expect(w.jobs[1]).toMatchObject({ attempts: 3, exit_code: 4 });
    expect(w.jobs[1]!.why).toMatch(/exited with code 4.*broken/);
    expect(w.jobs[2]!.why).toBe('skipped: job 1 (flaky) failed');
    expect(existsSync(`${dir}/after.runs`)).toBe(false);
    expect(s.app.engine.listAllocations('active')).toEqual([]);

    // fixed: retry runs the failed and skipped jobs, not what succeeded
    writeFileSync(`${dir}/fixed`, '');
    const again = await a.call<Workflow>('POST', `/workflows/${id}/retry`);
    expect(again.status).toBe(200);
    w = await ended(a, id);
    expect(lines(`${dir}/root.runs`)).toHaveLength(1);
    expect(lines(`${dir}/after.runs`)).toHaveLength(1);
    expect((await a.call('POST', `/workflows/${id}/retry`)).status).toBe(409);
  }, 60_000);

  it('a job past its timeoutMs is stopped and fails', async () => {
    const s = await server();
    const a = api(s);
    const u = await user(a, 'ana');
    const dir = scratch();
    const id = await submit(a, { user_id: u.id, jobs: [{ ...step(dir, 'slow', [], 0, 'sleep 30;'), timeoutMs: 800 }, step(dir, 'next', [0])] });
    const w = await ended(a, id, 'FAILED');
    expect(w.jobs[0]!.why).toMatch(/timed out: still running after 800 ms/);
    expect(w.jobs[1]!.status).toBe('SKIPPED');
    expect(s.app.workers.list().filter((x) => x.state === 'running' || x.state === 'starting')).toEqual([]);
  }, 30_000);

  it('cancel mid-run: running workers stopped, queued requests withdrawn, nothing left running', async () => {
    const s = await server();
    const a = api(s);
    const u = await user(a, 'ana');
    const dir = scratch();
    // two long jobs: one runs, the other waits (it asks for more cpu than is left)
    const id = await submit(a, {
      user_id: u.id,
      jobs: [{ ...step(dir, 'long', [], 'a', 'sleep 60;'), resources: { cpu: 6000 } }, { ...step(dir, 'big', [], 'b', 'sleep 60;'), resources: { cpu: 6000 } }, step(dir, 'after', [0, 1])],
    });
    await until(async () => ((await get(a, id)).jobs[0]!.status === 'RUNNING' ? true : undefined), 'long running');
    await until(async () => ((await get(a, id)).jobs[1]!.status === 'QUEUED' ? true : undefined), 'big queued');
    expect((await get(a, id)).jobs[1]!.why).toMatch(/queued/);
    const pid = (() => {
      const ref = s.app.workers.book.get((s.app.workflows.get(id).jobs[0]!.worker_id)!)?.ref;
      return ref?.kind === 'local' ? ref.pid : null;
    })();
    expect(pid).not.toBeNull();
    const res = await a.call<Workflow>('DELETE', `/workflows/${id}`);
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('CANCELLED');
    expect(res.body.jobs.map((j) => j.status)).toEqual(['CANCELLED', 'CANCELLED', 'CANCELLED']);
    expect(() => process.kill(pid!, 0)).toThrow();
    expect(s.app.engine.listAllocations('active')).toEqual([]);
    expect(s.app.engine.listQueue('fifo', 100).items).toEqual([]);
    expect((await a.call('DELETE', `/workflows/${id}`)).status).toBe(409);
    expect((await a.call('POST', `/workflows/${id}/retry`)).status).toBe(409);
  }, 30_000);
});

describe('validation', () => {
  it('answers 400 naming the job index and the field, 422 for what can never run here', async () => {
    const s = await server();
    const a = api(s);
    const u = await user(a, 'ana');
    const job = (name: string, parents: number[] = [], extra: object = {}) => ({ name, job_type: 't', branch_id: 0, parent_indices: parents, ...extra });
    const bad = async (body: unknown, status = 400) => {
      const r = await a.call<{ detail: string; error: { details: { field: string; message: string }[] } }>('POST', '/workflows/', body);
      expect(r.status, JSON.stringify(r.body)).toBe(status);
      return r.body.error.details;
    };
    expect(await bad({ user_id: 'nobody', jobs: [job('a')] })).toEqual([{ field: 'user_id', message: expect.stringMatching(/no user/) }]);
    expect((await bad({ user_id: u.id, jobs: [] }))[0]).toMatchObject({ field: 'jobs' });
    expect(await bad({ user_id: u.id, jobs: [job('a'), job('b', [5])] })).toEqual([{ field: 'jobs.1.parent_indices.0', message: '5 is not a job index (0–1)' }]);
    expect(await bad({ user_id: u.id, jobs: [job('a', [0])] })).toEqual([{ field: 'jobs.0.parent_indices.0', message: 'job 0 cannot be its own parent' }]);
    expect(await bad({ user_id: u.id, jobs: [job('a'), job('a')] })).toEqual([{ field: 'jobs.1.name', message: '"a" is also the name of job 0' }]);
    const cycle = await bad({ user_id: u.id, jobs: [job('a', [2]), job('b', [0], { branch_id: 1 }), job('c', [1], { branch_id: 2 })] });
    expect(cycle).toEqual([{ field: 'jobs.0.parent_indices', message: 'a cycle: 0 → 1 → 2 → 0 (each the parent of the next)' }]);
    // parents later in the list are fine (only cycles are refused)
    expect((await a.call('POST', '/workflows/', { user_id: u.id, jobs: [job('late', [1], { branch_id: 1 }), job('early')] })).status).toBe(201);
    expect((await bad({ user_id: u.id, jobs: [job('a', [], { retries: -1 })] }))[0]).toMatchObject({ field: 'jobs.0.retries' });
    expect((await bad({ user_id: u.id, jobs: [job('a', [], { resources: { gpus: 1, gpuMemoryMiB: 100 }, run: { cmd: 'true' } })] }))[0]).toMatchObject({ field: 'jobs.0.resources.gpuMemoryMiB' });
    expect((await bad({ user_id: u.id, jobs: [job('a', [], { run: { cmd: 'true', backend: 'docker' } })] }))).toEqual([{ field: 'jobs.0.run.container_image', message: 'required by the docker backend' }]);
    expect(await bad({ user_id: u.id, jobs: [job('a'), job('big', [0], { resources: { gpus: 4 }, run: { cmd: 'true' } })] }, 422)).toEqual([{ field: 'jobs.1.resources', message: expect.stringMatching(/GPU/) }]);
    expect(await bad({ user_id: u.id, jobs: [job('a', [], { run: { cmd: 'true', container_image: 'busybox' } })] }, 422)).toEqual([{ field: 'jobs.0.run.backend', message: 'the docker backend is not available on this server' }]);
    // nothing of the refused ones was stored
    expect((await a.call<{ workflows: unknown[] }>('GET', '/workflows')).body.workflows).toHaveLength(1);
  });
});

describe('restart', () => {
  it('killed with -9 mid-workflow, Arbiter resumes it: the running job is adopted, nothing that succeeded runs again', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'arbiter-wf-kill-'));
    cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
    const dir = scratch();
    const port = await freePort();
    const token = 'workflows-kill-test-token-01';
    const url = `http://127.0.0.1:${port}`;
    const configFile = join(dataDir, 'arbiter.yaml');
    writeFileSync(configFile, 'resources:\n  cpu: 8000\n  memoryMiB: 16384\n  gpus: []\n');
    const start = () => startCliServer({ port, dataDir, token, args: ['--config', configFile], onCleanup: (fn) => cleanups.push(fn) });
    let arbiter = await start();
    const a = api({ url, token });
    const u = await user(a, 'ana');
    // b waits for a file the test writes after the restart
    const id = await submit(a, { user_id: u.id, jobs: [step(dir, 'a', []), step(dir, 'b', [0], 0, `while [ ! -e ${dir}/go ]; do sleep 0.05; done;`), step(dir, 'c', [1]), step(dir, 'd', [], 'other')] });
    cleanups.push(() => writeFileSync(`${dir}/go`, ''));
    await until(async () => ((await get(a, id)).jobs[1]!.status === 'RUNNING' ? true : undefined), 'b running');
    await until(async () => ((await get(a, id)).jobs[3]!.status === 'SUCCEEDED' ? true : undefined), 'd done');

    arbiter.kill('SIGKILL');
    await exited(arbiter);
    arbiter = await start();
    const resumed = await get(a, id);
    expect(resumed.jobs.map((j) => j.status)).toEqual(['SUCCEEDED', 'RUNNING', 'PENDING', 'SUCCEEDED']);
    writeFileSync(`${dir}/go`, '');
    const w = await ended(a, id);
    expect(w.jobs.map((j) => j.attempts)).toEqual([1, 1, 1, 1]);
    for (const name of ['a', 'b', 'c', 'd']) expect(lines(`${dir}/${name}.runs`), name).toHaveLength(1);
    expect(lines(`${dir}/order`)).toEqual(expect.arrayContaining(['a', 'b', 'c', 'd']));
    arbiter.kill('SIGTERM');
    await exited(arbiter);
  }, 90_000);
});
