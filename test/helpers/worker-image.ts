/**
 * An image that runs a python worker (`python3 -m arbiter_worker`), made on this machine without a registry: a
 * rootfs with this machine's python3 — the interpreter, the shared libraries `ldd` names, the standard library
 * without its tests, IDLE, tkinter, ensurepip, bytecode caches and the like — plus clients/python/arbiter_worker and
 * examples/workers/echo_engine.py on its PYTHONPATH, imported with `podman import` (the CLI, with test/podman.sh's
 * CONTAINERS_CONF). It is built once per machine: the image carries the hash of its inputs in the label
 * `arbiter.test.inputs`, and an image with the same hash is used as it is. It also carries `arbiter.test=1`, which
 * every container made from it inherits: `test/podman.sh clean` removes them whoever made them.
 *
 * The interpreter: ARBITER_TEST_WORKER_PYTHON, else the distribution's /usr/bin/python3, else `python3` on PATH
 * (asked for its real executable, so that a pyenv shim names the interpreter behind it). Its files keep their
 * absolute paths in the image (python finds its standard library from where its executable is), and
 * /usr/local/bin/python3 points at it.
 */
import { execFile, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const REPO = fileURLToPath(new URL('../..', import.meta.url));
const SELF = fileURLToPath(import.meta.url);

export const WORKER_IMAGE = 'localhost/arbiter-python-worker:test';
/** where the worker's sources are in the image (its PYTHONPATH) */
export const IMAGE_PYTHONPATH = ['/opt/arbiter/python', '/opt/arbiter/workers'];
const HASH_LABEL = 'arbiter.test.inputs';

/** parts of the standard library a worker never needs */
const SKIP_STDLIB = new Set(['test', 'idlelib', 'tkinter', 'turtledemo', 'ensurepip', 'lib2to3', 'pydoc_data', 'site-packages', 'dist-packages', '__pycache__', 'turtle.py']);
/** extension modules left out: CPython's own tests, and those that pull in libraries a worker has no use for */
const SKIP_EXTENSION = /^(_test|xxlimited|_xx|_ctypes_test|_tkinter|nis|_dbm|_gdbm|_curses|readline|ossaudiodev)/;

export interface WorkerImage {
  image: string;
  /** built now (false: the image with these inputs was there already) */
  built: boolean;
  /** how long ensureWorkerImage took, ms */
  ms: number;
  /** the image's size as podman reports it, bytes */
  size: number;
  python: string;
  hash: string;
}

interface Python {
  executable: string;
  version: string;
  stdlib: string;
  dynload: string;
}

/** The podman CLI with test/podman.sh's containers.conf (runc, ulimits). */
export function podmanCli(args: readonly string[], opts: { timeoutMs?: number } = {}): Promise<{ stdout: string; stderr: string }> {
  const dir = process.env.ARBITER_PODMAN_DIR;
  if (!dir) throw new Error('ARBITER_PODMAN_DIR is not set: start the engine with test/podman.sh (the global setup does)');
  return run('podman', [...args], { env: { ...process.env, CONTAINERS_CONF: join(dir, 'containers.conf') }, timeout: opts.timeoutMs ?? 120_000, maxBuffer: 64 << 20 });
}

function pythonOf(): Python {
  const candidates = [process.env.ARBITER_TEST_WORKER_PYTHON, existsSync('/usr/bin/python3') ? '/usr/bin/python3' : undefined, 'python3'].filter((p): p is string => !!p);
  const probe = 'import json, os, sys, sysconfig; print(json.dumps({"executable": os.path.realpath(sys.executable), "version": sys.version, '
    + '"stdlib": sysconfig.get_paths()["stdlib"], "dynload": sysconfig.get_config_var("DESTSHARED") or ""}))';
  const errors: string[] = [];
  for (const c of candidates) {
    try {
      return JSON.parse(execFileSync(c, ['-I', '-c', probe], { encoding: 'utf8' })) as Python;
    } catch (err) {
      errors.push(`${c}: ${String(err)}`);
    }
  }
  throw new Error(`no python3 to put in the worker image: ${errors.join('; ')}`);
}

/** The files of the worker runtime and the example engine: relative path in the image → host path. */
function workerSources(): [string, string][] {
  const pkg = join(REPO, 'clients/python/arbiter_worker');
  return [
    ...readdirSync(pkg).filter((f) => f.endsWith('.py')).sort().map((f): [string, string] => [join(IMAGE_PYTHONPATH[0]!, 'arbiter_worker', f), join(pkg, f)]),
    [join(IMAGE_PYTHONPATH[1]!, 'echo_engine.py'), join(REPO, 'examples/workers/echo_engine.py')],
  ];
}

/** The hash of what the image is made of: this recipe, the interpreter, the worker's sources. */
function inputsHash(py: Python): string {
  const h = createHash('sha256');
  h.update(readFileSync(SELF));
  const exe = statSync(py.executable);
  h.update(JSON.stringify({ ...py, size: exe.size, mtime: exe.mtimeMs }));
  for (const [to, from] of workerSources()) h.update(to).update(readFileSync(from));
  return h.digest('hex').slice(0, 16);
}

async function imageHash(): Promise<string | null> {
  try {
    const { stdout } = await podmanCli(['image', 'inspect', '--format', `{{ index .Labels "${HASH_LABEL}" }}`, WORKER_IMAGE]);
    return stdout.trim() || null;
  } catch {
    return null; // not there
  }
}

async function imageSize(): Promise<number> {
  const { stdout } = await podmanCli(['image', 'inspect', '--format', '{{ .Size }}', WORKER_IMAGE]);
  return Number(stdout.trim());
}

/** The image, built unless one made from the same inputs is there already. */
export async function ensureWorkerImage(): Promise<WorkerImage> {
  const t0 = Date.now();
  const py = pythonOf();
  const hash = inputsHash(py);
  const have = await imageHash();
  let built = false;
  if (have !== hash) {
    const old = have === null ? '' : (await podmanCli(['image', 'inspect', '--format', '{{ .Id }}', WORKER_IMAGE])).stdout.trim();
    await build(py, hash);
    built = true;
    // the previous build, untagged now: removed unless a container still uses it
    if (old) await podmanCli(['rmi', old]).catch(() => {});
  }
  return { image: WORKER_IMAGE, built, ms: Date.now() - t0, size: await imageSize(), python: py.executable, hash };
}

async function build(py: Python, hash: string): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'arbiter-worker-image-'));
  try {
    const root = join(work, 'rootfs');
    for (const d of ['bin', 'dev', 'etc', 'proc', 'sys', 'run', 'root', 'usr/local/bin']) mkdirSync(join(root, d), { recursive: true });
    mkdirSync(join(root, 'tmp'), { mode: 0o1777 });
    chmodSync(join(root, 'tmp'), 0o1777);
    writeFileSync(join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n');
    writeFileSync(join(root, 'etc/group'), 'root:x:0:\nnogroup:x:65534:\n');

    const put = (from: string) => {
      const to = join(root, from);
      if (existsSync(to)) return;
      mkdirSync(dirname(to), { recursive: true });
      copyFileSync(from, to); // the file behind a symlink, at the path that names it
      chmodSync(to, statSync(from).mode & 0o7777);
    };
    const binaries = [py.executable];
    put(py.executable);
    symlinkSync(py.executable, join(root, 'usr/local/bin/python3'));

    // the standard library, without what a worker never needs
    const copyTree = (dir: string) => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        const p = join(dir, e.name);
        if (SKIP_STDLIB.has(e.name) || e.name.startsWith('config-')) continue;
        if (p === py.dynload) continue;
        if (e.isDirectory()) copyTree(p);
        else if (e.isFile() || e.isSymbolicLink()) {
          if (e.isSymbolicLink() && !existsSync(p)) continue;
          if (statSync(p).isDirectory()) continue;
          put(p);
        }
      }
    };
    copyTree(py.stdlib);
    if (py.dynload && existsSync(py.dynload)) {
      for (const f of readdirSync(py.dynload)) {
        if (!f.endsWith('.so') || SKIP_EXTENSION.test(f)) continue;
        put(join(py.dynload, f));
        binaries.push(join(py.dynload, f));
      }
    }
    // the shared libraries each binary needs, and the loader
    for (const b of binaries) {
      const { stdout } = await run('ldd', [b]).catch(() => ({ stdout: '' })); // "not a dynamic executable": exit 1
      for (const m of stdout.matchAll(/(?:=>\s*)?(\/\S+)\s+\(0x/g)) put(m[1]!);
    }
    // the worker and the example engine
    for (const [to, from] of workerSources()) {
      mkdirSync(dirname(join(root, to)), { recursive: true });
      copyFileSync(from, join(root, to));
    }

    const tar = join(work, 'rootfs.tar');
    await run('tar', ['--numeric-owner', '--owner=0', '--group=0', '-C', root, '-cf', tar, '.']);
    await podmanCli([
      'import', '-q',
      // image labels pass to every container made from it: `test/podman.sh clean` removes them all
      '--change', 'LABEL arbiter.test=1',
      '--change', `LABEL ${HASH_LABEL}=${hash}`,
      '--change', `LABEL arbiter.test.python=${py.executable}`,
      '--change', 'ENV PATH=/usr/local/bin:/usr/bin:/bin',
      '--change', `ENV PYTHONPATH=${IMAGE_PYTHONPATH.join(':')}`,
      '--change', 'ENV PYTHONUNBUFFERED=1',
      '--change', 'WORKDIR /',
      '--change', `CMD ["python3", "-m", "arbiter_worker", "--host", "0.0.0.0"]`,
      tar, WORKER_IMAGE,
    ], { timeoutMs: 300_000 });
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
