/**
 * A Python client of the plain WebSocket transport, with the `websockets` package (Debian's python3-websockets,
 * which .ci/run installs): it connects to /api/resource-scheduler/push/ws with its token in the Authorization
 * header, reads `message["type"]` and `message["data"]`, and gets resource_status, hint and conflict from a real
 * server. Without the package the test is skipped, saying so — unless ARBITER_REQUIRE_ENGINES=1 (CI), where it fails.
 */
import { spawn, spawnSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.ts';

const PYTHON = '/usr/bin/python3';
const probe = spawnSync(PYTHON, ['-c', 'import websockets'], { encoding: 'utf8' });
const missing = probe.status === 0 ? undefined : `python3 -c "import websockets" failed (${(probe.stderr || probe.error?.message || '').trim().split('\n').at(-1)}): install python3-websockets`;
if (missing && process.env.ARBITER_REQUIRE_ENGINES === '1') throw new Error(missing);
if (missing) console.warn(`skipping the Python WebSocket client test: ${missing}`);

const CLIENT = String.raw`
import asyncio, json, sys
import websockets

WANTED = {"resource_status", "hint", "conflict"}

async def main(url, token):
    headers = {"Authorization": "Bearer " + token}
    major = int(websockets.__version__.split(".")[0])
    connect = websockets.connect(url, **({"additional_headers": headers} if major >= 14 else {"extra_headers": headers}))
    async with connect as ws:
        await ws.send(json.dumps({"subscribe": sorted(WANTED)}))
        print("open", flush=True)
        seen = {}
        async for raw in ws:
            message = json.loads(raw)
            if message["type"] == "subscribed":
                print("subscribed " + ",".join(message["data"]["types"]), flush=True)
                continue
            seen.setdefault(message["type"], {"id": message["id"], "data": message["data"]})
            if WANTED <= seen.keys():
                print(json.dumps(seen), flush=True)
                return

asyncio.run(asyncio.wait_for(main(sys.argv[1], sys.argv[2]), 20))
`;

let s: TestServer | undefined;
afterEach(async () => {
  await s?.close();
  s = undefined;
});

describe.skipIf(missing !== undefined)('a Python websockets client', () => {
  it('gets resource_status, hint and conflict with type and data', async () => {
    s = await startTestServer({
      hostIntervalMs: 200,
      configure: (c) => {
        c.resources = { cpu: 8000, memoryMiB: 16384, gpus: [{ index: 0, memoryMiB: 16384 }] };
        c.hints.leaseWarningMs = 86_400_000; // every lease is about to expire: a hint at the next evaluation
      },
    });
    const url = `${s.url.replace(/^http/, 'ws')}/api/resource-scheduler/push/ws`;
    const child = spawn(PYTHON, ['-c', CLIENT, url, s.token], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' } });
    let out = '';
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('subscribed')) resolve();
      });
      void exited.then(() => reject(new Error(`the client ended early: ${err}`)));
    });
    const submit = (owner: string) => fetch(`${s!.url}/api/requests`, {
      method: 'POST', headers: { Authorization: `Bearer ${s!.token}`, 'Content-Type': 'application/json' }, body: JSON.stringify({ owner, resources: { gpus: 1 } }),
    });
    expect((await submit('ana')).status).toBe(201); // granted: its lease raises a hint
    expect((await submit('bo')).status).toBe(202); // waits: a conflict
    expect(await exited, err).toBe(0);
    const lines = out.trim().split('\n');
    expect(lines.slice(0, 2)).toEqual(['open', 'subscribed conflict,hint,resource_status']);
    const seen = JSON.parse(lines.at(-1)!) as Record<string, { id: number; data: Record<string, unknown> }>;
    expect(seen.resource_status!.data).toMatchObject({ node: expect.any(String) });
    expect(seen.hint!.data).toMatchObject({ kind: 'hint_raised' });
    expect(seen.conflict!.data).toMatchObject({ kind: 'conflict_opened' });
  }, 30_000);
});
