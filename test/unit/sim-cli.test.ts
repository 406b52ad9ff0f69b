import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SimulateArgsError, runSimulate } from '../../server/sim/cli.ts';

const dir = mkdtempSync(join(tmpdir(), 'arbiter-sim-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const trace = join(dir, 'tiny-openb_pod_list_default.csv');
writeFileSync(trace, [
  'name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,deletion_time,scheduled_time',
  'p-0,1000,1024,1,1000,,LS,Running,0,100,0',
  'p-1,1000,1024,0,500,,BE,Running,10,200,10',
].join('\n'));

const thrown = (fn: () => unknown): Error => {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error('did not throw');
};

describe('arbiter simulate arguments', () => {
  it('names each bad argument by its flag', () => {
    const e = thrown(() => runSimulate({ trace, gpusPerNode: -1, strategies: 'fastest' }));
    expect(e).toBeInstanceOf(SimulateArgsError);
    expect(e.message).toMatch(/^--gpus-per-node: .*; --strategies: unknown strategy "fastest"/);
  });

  it('names a bad field of --strategy-config by strategy and field', () => {
    const file = join(dir, 'configs.json');
    writeFileSync(file, JSON.stringify({ time_slicing: { quantumMs: 0 } }));
    const e = thrown(() => runSimulate({ trace, strategies: 'time_slicing', strategyConfig: file }));
    expect(e).toBeInstanceOf(SimulateArgsError);
    expect(e.message).toMatch(new RegExp(`^invalid --strategy-config ${file}: time_slicing\\.quantumMs: `));
    writeFileSync(file, JSON.stringify({ fastest: {} }));
    expect(thrown(() => runSimulate({ trace, strategyConfig: file })).message).toMatch(/^invalid --strategy-config .*: .*"fastest"/);
  });

  it('replays with a valid --strategy-config', () => {
    const file = join(dir, 'ok.json');
    writeFileSync(file, JSON.stringify({ time_slicing: { quantumMs: 5000 } }));
    const out = runSimulate({ trace, nodes: 1, strategies: 'time_slicing,priority_based', strategyConfig: file });
    expect(out.jobs).toBe(2);
    expect(out.results.map((r) => r.strategy)).toEqual(['time_slicing', 'priority_based']);
  });

  it('--nodes-from builds the cluster from a node list: each node its cpu, memory, GPUs and model', () => {
    const list = join(dir, 'nodes.csv');
    writeFileSync(list, ['sn,cpu_milli,memory_mib,gpu,model', 'n-a,2000,4096,1,T4', 'n-b,64000,262144,2,P100', 'n-c,8000,8192,0,'].join('\n'));
    const out = runSimulate({ trace, nodesFrom: list, strategies: 'resource_pooling' });
    expect(out).toMatchObject({ nodes: 3, gpus: 3, nodesFrom: list, jobs: 2 });
    expect(out.results[0]!.granted).toBe(2);
  });

  it('--nodes-from names a missing or empty node list', () => {
    expect(thrown(() => runSimulate({ trace, nodesFrom: join(dir, 'absent.csv') })).message).toMatch(/^--nodes-from: no file at /);
    const empty = join(dir, 'empty.csv');
    writeFileSync(empty, 'sn,cpu_milli,memory_mib,gpu,model\n');
    expect(thrown(() => runSimulate({ trace, nodesFrom: empty })).message).toMatch(/lists no node/);
  });
});
