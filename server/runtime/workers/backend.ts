/**
 * Where a worker runs: the contract the `local` backend (child processes, local.ts) and the `docker` backend
 * (containers over the Docker API, docker.ts) both keep. The worker service decides *when* (a replica starts once
 * its request is granted, stops on delete or preemption, pauses while time-slicing suspends its allocation); a
 * backend only does it, reports exits, and after a restart of Arbiter finds the workers that outlived it.
 */
import type { ContainerSpec, WorkerBackend as BackendKind, WorkerRef } from '../../../shared/workers.ts';

export type { WorkerRef } from '../../../shared/workers.ts';

/** Everything a backend needs to start one replica. */
export interface Launch {
  /** the worker's id (`<group>-<replica>`) */
  id: string;
  /** its group's name */
  group: string;
  replica: number;
  spec: ContainerSpec;
  /** GPU indices granted: CUDA_VISIBLE_DEVICES (local), device requests (docker) — exactly these */
  gpus: number[];
  /**
   * The port the worker listens on (spec.port, or a free one the service chose): given to it as ARBITER_PORT.
   * The docker backend publishes it on 127.0.0.1 (another host port when that one is taken) and says where in
   * `Running.port`.
   */
  port: number;
  /**
   * Its environment on top of the backend's base: spec.env_vars, then ARBITER_WORKER_ID, ARBITER_PORT,
   * CUDA_VISIBLE_DEVICES (and NVIDIA_VISIBLE_DEVICES for containers) — the service builds it.
   */
  env: Record<string, string>;
}

/** A started (or adopted) worker. */
export interface Running {
  id: string;
  /** where its port is reached from Arbiter */
  host: string;
  port: number;
  /** ms since epoch */
  startedAt: number;
  ref: WorkerRef;
}

export interface Exit {
  /** exit status; null when it was ended by a signal, or ended while nobody was watching and left no status */
  code: number | null;
  signal: string | null;
}

export type ExitListener = (id: string, exit: Exit) => void;

export interface Backend {
  readonly kind: BackendKind;
  /** Start a replica; resolves once it is started (not necessarily answering on its port). Throws when it cannot start. */
  start(launch: Launch): Promise<Running>;
  /**
   * Stop gracefully: SIGTERM to its process group / `docker stop`, and after `graceMs` kill it. Resolves once it
   * has exited (its exit is also reported to the exit listeners). Unknown or already ended: resolves at once.
   */
  stop(id: string, graceMs: number): Promise<void>;
  /** Pause (SIGSTOP to the group / `docker pause`) and resume (SIGCONT / `docker unpause`). */
  pause(id: string): Promise<void>;
  resume(id: string): Promise<void>;
  /**
   * After a restart: take back the workers Arbiter knew (`known`, from its store). Those still alive are watched
   * again and returned; those gone are reported to the exit listeners (with their status when it was kept).
   * Workers the backend finds that are not in `known` (e.g. containers labelled as Arbiter's) are left alone and
   * returned in `strangers` for the service to decide.
   */
  adopt(known: readonly Running[]): Promise<{ alive: Running[]; strangers: Running[] }>;
  /** Called once per worker when it exits, however it ended. */
  onExit(listener: ExitListener): () => void;
  /** The last `tail` lines of its output (stdout and stderr, in order). */
  logs(id: string, tail: number): Promise<string[]>;
  /** Stop watching (workers keep running: they are adopted at the next start). */
  close(): Promise<void>;
}
