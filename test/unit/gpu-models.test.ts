/**
 * The GPU model matching rule (server/scheduler/gpu-models.ts): a name equals the GPU's name or its words appear in
 * a row among the name's words, ignoring case; and what a ledger answers for a shape that names models.
 */
import { describe, expect, it } from 'vitest';
import { gpusFor, matchesGpuModel } from '../../server/scheduler/gpu-models.ts';
import { Ledger, type Shape } from '../../server/scheduler/ledger.ts';
import { gpuNode } from '../helpers/cluster.ts';

/** [name asked, GPU name, matches] */
const CASES: [string, string, boolean][] = [
  // a whole word of the GPU name, ignoring case: A100 is an A100, not an A10
  ['A100', 'NVIDIA A100-SXM4-80GB', true],
  ['a100', 'NVIDIA A100-PCIE-40GB', true],
  ['A10', 'NVIDIA A10', true],
  ['A10', 'NVIDIA A100-PCIE-40GB', false],
  ['A10', 'A100', false],
  ['A100', 'A10', false],
  ['T4', 'Tesla T4', true],
  ['T4', 'NVIDIA RTX A4000', false],
  ['T4', 'Tesla T40', false],
  // the trace's model names: equal ignoring case; V100 is neither V100M16 nor V100M32
  ['V100M16', 'V100M16', true],
  ['v100m32', 'V100M32', true],
  ['V100', 'V100M32', false],
  ['V100M16', 'V100M32', false],
  ['G2', 'G3', false],
  // several words match when they stand in a row, in that order
  ['RTX 4090', 'NVIDIA GeForce RTX 4090', true],
  ['a100-sxm4', 'NVIDIA A100-SXM4-80GB', true],
  ['4090 RTX', 'NVIDIA GeForce RTX 4090', false],
  ['A100 80GB', 'NVIDIA A100-SXM4-80GB', false],
  ['NVIDIA A100-SXM4-80GB', 'nvidia a100-sxm4-80gb', true],
  // a name without letters or digits matches only a GPU of that very name
  ['--', 'NVIDIA A100', false],
  ['--', '--', true],
];

describe('matchesGpuModel', () => {
  it.each(CASES)('%s ~ %s: %s', (name, gpu, yes) => {
    expect(matchesGpuModel([name], gpu)).toBe(yes);
  });

  it('any of several names', () => {
    const models = ['A100', 'H100'];
    expect(['NVIDIA A100-SXM4-80GB', 'NVIDIA H100 80GB HBM3', 'Tesla T4'].map((g) => matchesGpuModel(models, g))).toEqual([true, true, false]);
  });
});

describe('a ledger and a shape with GPU models', () => {
  const ledger = () => {
    const l = new Ledger();
    l.setInventory(gpuNode('box', 3, { models: ['NVIDIA T4', 'NVIDIA A100-SXM4-80GB', 'NVIDIA T4'], gpuMiB: 16_384 }));
    return l;
  };
  const whole = (n: number, models?: string[]): Shape => ({ cpu: 0, memoryMiB: 0, whole: n, fracMiB: 0, ...(models ? { models } : {}) });
  const share = (mib: number, models?: string[]): Shape => ({ cpu: 0, memoryMiB: 0, whole: 0, fracMiB: mib, ...(models ? { models } : {}) });
  const meta = { requestId: 'r', owner: 'o', priority: 0, grantedAt: 0 };

  it('sees the GPUs of its models only', () => {
    expect(gpusFor(ledger(), whole(1, ['A100'])).map((s) => s.index)).toEqual([1]);
    expect(gpusFor(ledger(), whole(1, ['T4'])).map((s) => s.index)).toEqual([0, 2]);
    expect(gpusFor(ledger(), whole(1)).map((s) => s.index)).toEqual([0, 1, 2]);
  });

  it('places on the GPU of its model though another is free first; fits no more once it is taken', () => {
    const l = ledger();
    expect(l.place(whole(1))).toEqual({ gpuIndices: [0] });
    expect(l.place(whole(1, ['A100']))).toEqual({ gpuIndices: [1] });
    expect(l.place(share(4096, ['A100']))).toEqual({ gpuIndices: [1] });
    l.allocate('a', whole(1), [1], meta);
    expect(l.fits(whole(1, ['A100']))).toBe(false);
    expect(l.fits(share(1, ['A100']))).toBe(false);
    expect(l.fits(whole(2, ['T4']))).toBe(true);
    expect(l.fits(whole(1))).toBe(true);
  });

  it('never fits: no GPU of the model, more of them than there are, a share larger than they are', () => {
    const l = ledger();
    expect(l.neverFits(whole(1, ['H100']))).toBe('needs a GPU of model H100; the node has none (its GPUs: NVIDIA T4, NVIDIA A100-SXM4-80GB)');
    expect(l.neverFits(whole(2, ['A100']))).toBe('needs 2 whole GPU(s) of model A100; the node has 1');
    expect(l.neverFits(whole(3, ['A100', 'T4']))).toBeNull();
    expect(l.neverFits(share(20_000, ['T4']))).toBe('needs 20000 MiB of one GPU of model T4; the largest has 16384 MiB');
  });
});
