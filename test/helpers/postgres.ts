/**
 * A throw-away PostgreSQL for tests: Debian's server binaries (/usr/lib/postgresql/<newest>/bin), `initdb` into a
 * temporary directory, `postgres` on a free port of 127.0.0.1 with its socket in that directory, trust
 * authentication for the one user `arbiter`. PostgreSQL refuses to run as root: as root, the cluster belongs to the
 * `postgres` user (or `nobody`) and the processes are spawned with that uid. `stop()` ends the server by its pid
 * (fast shutdown) and removes the directory.
 *
 * `schema()` gives a connection string whose search_path is a new, empty schema: each test gets a database of its
 * own without the cost of CREATE DATABASE. When the binaries are missing, `postgresUnavailable()` says why;
 * `ARBITER_REQUIRE_ENGINES=1` (set by .ci/run) turns that into a failure instead of a skip.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll } from 'vitest';
import { freePort } from './cli-server.ts';

const ROOT = '/usr/lib/postgresql';

/** The directory of initdb and postgres, or null. */
export function postgresBin(): string | null {
  if (existsSync(ROOT)) {
    const versions = readdirSync(ROOT).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a));
    for (const v of versions) if (existsSync(join(ROOT, v, 'bin', 'postgres'))) return join(ROOT, v, 'bin');
  }
  const cfg = spawnSync('pg_config', ['--bindir'], { encoding: 'utf8' });
  const dir = cfg.status === 0 ? cfg.stdout.trim() : '';
  return dir && existsSync(join(dir, 'postgres')) ? dir : null;
}

/** Why the tests cannot start PostgreSQL here, or null when they can. Throws when engines are required. */
export function postgresUnavailable(): string | null {
  if (postgresBin()) return null;
  const why = 'PostgreSQL server binaries not found (Debian: apt-get install postgresql); the PostgreSQL store tests are skipped';
  if (process.env.ARBITER_REQUIRE_ENGINES === '1') throw new Error(why);
  return why;
}

function runAs(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  for (const user of ['postgres', 'nobody']) {
    const uid = spawnSync('id', ['-u', user], { encoding: 'utf8' });
    const gid = spawnSync('id', ['-g', user], { encoding: 'utf8' });
    if (uid.status === 0 && gid.status === 0) return { uid: Number(uid.stdout), gid: Number(gid.stdout) };
  }
  throw new Error('running as root and neither a postgres nor a nobody user exists to run PostgreSQL as');
}

export class TestPostgres {
  private schemas = 0;
  private exited: Promise<void>;

  private constructor(readonly dir: string, readonly port: number, private readonly proc: ChildProcess, readonly log: string[]) {
    this.exited = new Promise((resolve) => proc.once('exit', () => resolve()));
  }

  /** The cluster's database `arbiter` as user `arbiter`. */
  get url(): string {
    return `postgres://arbiter@127.0.0.1:${this.port}/arbiter`;
  }

  get pid(): number {
    return this.proc.pid!;
  }

  static async start(): Promise<TestPostgres> {
    const bin = postgresBin();
    if (!bin) throw new Error('PostgreSQL server binaries not found');
    const dir = mkdtempSync(join(tmpdir(), 'arbiter-pg-'));
    const owner = runAs();
    if (owner) chownSync(dir, owner.uid, owner.gid);
    const data = join(dir, 'data');
    const init = spawnSync(join(bin, 'initdb'), ['-D', data, '-U', 'arbiter', '--auth=trust', '-E', 'UTF8', '--locale=C', '--no-sync'], {
      encoding: 'utf8', ...owner, cwd: dir,
    });
    if (init.status !== 0) throw new Error(`initdb failed (${init.status}): ${init.stderr || init.stdout}`);
    const port = await freePort();
    const proc = spawn(join(bin, 'postgres'), [
      '-D', data, '-p', String(port), '-k', dir, '-c', 'listen_addresses=127.0.0.1',
      // a test cluster: what a killed process committed is in the OS page cache; no need to wait for the disk
      '-c', 'fsync=off', '-c', 'full_page_writes=off', '-c', 'max_connections=200',
    ], { ...owner, cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    const log: string[] = [];
    const keep = (b: Buffer) => {
      log.push(b.toString());
      if (log.length > 200) log.shift();
    };
    proc.stdout!.on('data', keep);
    proc.stderr!.on('data', keep);
    const pgs = new TestPostgres(dir, port, proc, log);
    try {
      await pgs.waitReady();
      await pgs.admin('CREATE DATABASE arbiter', 'postgres');
    } catch (err) {
      await pgs.stop();
      throw err;
    }
    return pgs;
  }

  /** Run one statement as the superuser (database `arbiter` unless another is named). */
  async admin(sql: string, database = 'arbiter'): Promise<pg.QueryResult> {
    const c = new pg.Client({ connectionString: `postgres://arbiter@127.0.0.1:${this.port}/${database}` });
    await c.connect();
    try {
      return await c.query(sql);
    } finally {
      await c.end();
    }
  }

  /** A new empty schema, and the connection string that works in it. */
  async schema(): Promise<string> {
    const name = `t${++this.schemas}_${process.pid}`;
    await this.admin(`CREATE SCHEMA ${name}`);
    return `${this.url}?options=${encodeURIComponent(`-c search_path=${name}`)}`;
  }

  async stop(): Promise<void> {
    if (this.proc.exitCode === null && this.proc.signalCode === null) {
      this.proc.kill('SIGINT'); // fast shutdown: disconnects clients, no waiting for them
      const timer = setTimeout(() => this.proc.kill('SIGKILL'), 10_000);
      await this.exited;
      clearTimeout(timer);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }

  private async waitReady(): Promise<void> {
    const deadline = Date.now() + 30_000;
    let last: unknown;
    while (Date.now() < deadline) {
      if (this.proc.exitCode !== null) throw new Error(`postgres exited (${this.proc.exitCode}): ${this.log.join('')}`);
      try {
        await this.admin('SELECT 1', 'postgres');
        return;
      } catch (err) {
        last = err;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    throw new Error(`postgres did not accept connections within 30 s: ${String(last)}\n${this.log.join('')}`);
  }
}

/**
 * The database a test file's servers use, per engine: SQLite (nothing to pass: the data dir) and, when its binaries
 * are here, PostgreSQL (a cluster started once for the file; each call of `url()` a new empty schema). For
 * `describe.each(serverDatabases())('… on $name', (db) => …)` at a file's top level.
 */
export interface ServerDatabase {
  readonly name: 'sqlite' | 'postgres';
  /** the --database value for a new, empty database; undefined: SQLite in the data dir */
  url(): Promise<string | undefined>;
}

export function serverDatabases(): ServerDatabase[] {
  const sqlite: ServerDatabase = { name: 'sqlite', url: () => Promise.resolve(undefined) };
  const why = postgresUnavailable();
  if (why) {
    console.warn(`skipped: ${why}`);
    return [sqlite];
  }
  let server: TestPostgres | undefined;
  beforeAll(async () => {
    server = await TestPostgres.start();
  }, 60_000);
  afterAll(async () => {
    await server?.stop();
  });
  return [sqlite, { name: 'postgres', url: () => server!.schema() }];
}
