/**
 * Process starts from Node, the baselines of bench/workflows.ts: one `/bin/sh -c true` at a time, bare and the way
 * the local backend starts a worker (server/runtime/workers/local.ts: its /bin/sh wrapper, a session of its own,
 * output to a file), and a DAG of such jobs run by a bare executor (each job started the moment its last parent has
 * exited) — no HTTP, scheduler, store or events. Every child is registered with lib.ts's cleanup.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, constants, openSync } from 'node:fs';
import { join } from 'node:path';
import { wrapperArgs } from '../server/runtime/workers/wrapper.ts';
import { track } from './lib.ts';

export interface SpawnTimes {
  /** spawn() called → it returned (the child exists: what the local backend waits for) */
  returned: number;
  /** → the 'spawn' event */
  spawned: number;
  /** → the 'exit' event */
  exited: number;
}

/** Spawn the way the local backend starts a worker (local.ts): its /bin/sh wrapper, a session of its own, output to a file. */
function spawnAsWorker(dir: string, k: number): ChildProcess {
  const fd = openSync(join(dir, `${k}.log`), constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_APPEND, 0o600);
  try {
    return spawn('/bin/sh', wrapperArgs(join(dir, `${k}.exit`), 'true'), { detached: true, stdio: ['ignore', fd, fd] });
  } finally {
    closeSync(fd);
  }
}

const spawnBare = (): ChildProcess => spawn('/bin/sh', ['-c', 'true'], { stdio: 'ignore' });

function timeSpawn(start: () => ChildProcess): Promise<SpawnTimes> {
  const t0 = performance.now();
  const child = track(start());
  const returned = performance.now() - t0;
  return new Promise((resolve, reject) => {
    let spawned = NaN;
    child.once('spawn', () => (spawned = performance.now() - t0));
    child.once('error', reject);
    child.once('exit', () => resolve({ returned, spawned, exited: performance.now() - t0 }));
  });
}

export interface SpawnBaseline {
  bare: SpawnTimes[];
  worker: SpawnTimes[];
}

/** `n` process starts of each kind, one at a time, in alternating rounds, after 20 unmeasured. */
export async function spawnBaseline(n: number, dir: string): Promise<SpawnBaseline> {
  const out: SpawnBaseline = { bare: [], worker: [] };
  let k = 0;
  for (let w = 0; w < 20; w++) await timeSpawn(spawnBare);
  for (let round = 0; round < 10; round++) {
    for (let i = 0; i < n / 10; i++) out.bare.push(await timeSpawn(spawnBare));
    for (let i = 0; i < n / 10; i++) out.worker.push(await timeSpawn(() => spawnAsWorker(dir, k++)));
  }
  return out;
}

export interface BareRun {
  wallMs: number;
  readyToStart: number[];
  readyToExit: number[];
  maxLive: number;
}

/** A DAG run by a bare executor in this process: each job started the local backend's way when its parents have exited. */
export function bareDag(jobs: readonly { parent_indices: readonly number[] }[], dir: string): Promise<BareRun> {
  const children: number[][] = jobs.map(() => []);
  jobs.forEach((j, i) => j.parent_indices.forEach((p) => children[p]!.push(i)));
  const pending = jobs.map((j) => j.parent_indices.length);
  const readyToStart: number[] = [];
  const readyToExit: number[] = [];
  let live = 0;
  let maxLive = 0;
  let done = 0;
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const start = (i: number, readyAt: number) => {
      const child = track(spawnAsWorker(dir, i));
      readyToStart.push(performance.now() - readyAt);
      maxLive = Math.max(maxLive, ++live);
      child.once('error', reject);
      child.once('exit', (code) => {
        live--;
        if (code !== 0) return reject(new Error(`bare executor: job ${i} exited ${code}`));
        const now = performance.now();
        readyToExit.push(now - readyAt);
        if (++done === jobs.length) return resolve({ wallMs: now - t0, readyToStart, readyToExit, maxLive });
        for (const c of children[i]!) if (--pending[c]! === 0) start(c, now);
      });
    };
    jobs.forEach((j, i) => j.parent_indices.length === 0 && start(i, t0));
  });
}
