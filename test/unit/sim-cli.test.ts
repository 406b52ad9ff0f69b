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

  it('--preemptible all with a starvation bound: a job held off by a long one runs by the bound (the simulator steps to its notice)', () => {
    const long = join(dir, 'long-openb_pod_list_default.csv');
    writeFileSync(long, [
      'name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,deletion_time,scheduled_time',
      'p-long,1000,1024,1,1000,,LS,Running,0,100000,0',
      'p-next,1000,1024,1,1000,,LS,Running,10,110,10',
    ].join('\n'));
    const file = join(dir, 'bound.json');
    writeFileSync(file, JSON.stringify({ priority_based: { reserveAfterMs: 60_000, maxWaitMs: 600_000 } }));
    const run = (preemptible: 'be' | 'all') => runSimulate({ trace: long, nodes: 1, gpusPerNode: 1, strategies: 'priority_based', strategyConfig: file, preemptible }).results[0]!;
    // LS pods are not preemptible: p-next waits for p-long to end
    expect(run('be')).toMatchObject({ maxWaitMs: 99_990_000, preemptions: 0 });
    // every pod preemptible: p-long is preempted at the bound (and runs again after p-next)
    expect(run('all')).toMatchObject({ maxWaitMs: 600_000, preemptions: 1, resubmitted: 1, completed: 2 });
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

describe('arbiter simulate --nodes-from: pods that name GPU models (gpu_spec)', () => {
  // one T4 node and one V100M32 node, one GPU each. v-0 (V100M32) runs 0–100 s; v-1 (V100M32) comes at 10 s and
  // waits for the V100M32 node though the T4 is free, until 100 s; any-2 (no model) comes at 20 s and takes the T4
  // at once; a-3 names a model no node has: left out. Without the models, v-1 would take the T4 at 10 s and any-2
  // wait until 100 s (80 s).
  const modelTrace = join(dir, 'models-openb_pod_list_default.csv');
  writeFileSync(modelTrace, [
    'name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,deletion_time,scheduled_time',
    'v-0,1000,1024,1,1000,V100M32,LS,Running,0,100,0',
    'v-1,1000,1024,1,1000,V100M32|P100,LS,Running,10,1000,10',
    'any-2,1000,1024,1,1000,,LS,Running,20,1000,20',
    'a-3,1000,1024,1,1000,A100,LS,Running,30,1000,30',
  ].join('\n'));
  const nodeList = join(dir, 'model-nodes.csv');
  writeFileSync(nodeList, ['sn,cpu_milli,memory_mib,gpu,model', 'n-t4,8000,16384,1,T4', 'n-v100,8000,16384,1,V100M32'].join('\n'));

  it('each strategy: the pod naming V100M32 waits for that node while the T4 is free; the model no node has never fits', () => {
    const out = runSimulate({ trace: modelTrace, nodesFrom: nodeList, owners: 1 });
    expect(out.results).toHaveLength(6);
    for (const r of out.results) {
      expect([r.strategy, r.jobs, r.neverFit, r.granted, r.completed, r.maxWaitMs]).toEqual([r.strategy, 4, 1, 3, 3, 90_000]);
      expect(r.waitMs.mean).toBe(30_000);
    }
  });
});
