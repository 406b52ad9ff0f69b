import { describe, expect, it } from 'vitest';
import { Ledger, firstFit, shapeOf, type Shape } from '../../server/scheduler/ledger.ts';
import { declaredInventory, type GpuUsage, type Inventory } from '../../server/scheduler/inventory.ts';
import { packShared } from '../../server/scheduler/strategies/common.ts';
import type { Resources } from '../../shared/scheduler.ts';

const GiB = 1024;
const shape = (r: Partial<Resources>): Shape => shapeOf({ cpu: 0, memoryMiB: 0, gpus: 0, ...r });

function node(gpus = 2, gpuMiB = 16 * GiB): Inventory {
  return declaredInventory('n1', { resources: { cpu: 8000, memoryMiB: 16 * GiB, gpus: Array.from({ length: gpus }, (_, index) => ({ index, memoryMiB: gpuMiB })) } });
}

let seq = 0;
/** Place with the strategy's picker and book it; returns the allocation id and its GPUs. */
function take(l: Ledger, r: Partial<Resources>, priority = 0): { id: string; gpus: number[] } | null {
  const s = shape(r);
  const p = l.place(s, packShared);
  if (!p) return null;
  const id = `a${++seq}`;
  l.allocate(id, s, p.gpuIndices, { requestId: `r${seq}`, owner: 'o', priority, grantedAt: seq });
  return { id, gpus: p.gpuIndices };
}

const usage = (gpuIndex: number, usedMemoryMiB: number | null, allocationId: string | null = null): GpuUsage =>
  ({ pid: 100 + gpuIndex, containerId: null, name: 'python', gpuIndex, usedMemoryMiB, allocationId });

describe('Ledger fit', () => {
  it('fits cpu and memory against capacity minus allocations, and gives them back on release', () => {
    const l = new Ledger();
    l.setInventory(node());
    const a = take(l, { cpu: 6000, memoryMiB: 8 * GiB })!;
    expect(l.fits(shape({ cpu: 2000 }))).toBe(true);
    expect(l.fits(shape({ cpu: 2001 }))).toBe(false);
    expect(l.fits(shape({ memoryMiB: 8 * GiB + 1 }))).toBe(false);
    expect(l.free()).toMatchObject({ cpu: 2000, memoryMiB: 8 * GiB });
    expect(l.release(a.id)).toBe(true);
    expect(l.release(a.id)).toBe(false);
    expect(l.fits(shape({ cpu: 8000, memoryMiB: 16 * GiB }))).toBe(true);
  });

  it('fits nothing in a dimension whose capacity is not known yet', () => {
    const l = new Ledger();
    l.setInventory({ node: 'n', sampledAt: 0, cpu: 4000, memoryMiB: null, gpus: null });
    expect(l.fits(shape({ cpu: 1000 }))).toBe(true);
    expect(l.fits(shape({ memoryMiB: 1 }))).toBe(false);
    expect(l.fits(shape({ gpus: 1 }))).toBe(false);
    expect(l.knows(shape({ cpu: 1 }))).toBe(true);
    expect(l.knows(shape({ gpuMemMiB: 1 }))).toBe(false);
  });

  it('two 8 GiB fractional requests share one 16 GiB GPU; a third goes to the next GPU', () => {
    const l = new Ledger();
    l.setInventory(node());
    expect(take(l, { gpuMemMiB: 8 * GiB })!.gpus).toEqual([0]);
    expect(take(l, { gpuMemMiB: 8 * GiB })!.gpus).toEqual([0]);
    expect(take(l, { gpuMemMiB: 8 * GiB })!.gpus).toEqual([1]);
    expect(l.slots()[0]!.sharedMiB).toBe(16 * GiB);
  });

  it('a GPU with a fractional allocation is not free as a whole GPU; a whole-GPU request does not take it', () => {
    const l = new Ledger();
    l.setInventory(node());
    take(l, { gpuMemMiB: 4 * GiB });
    expect(l.fits(shape({ gpus: 2 }))).toBe(false);
    expect(take(l, { gpus: 1 })!.gpus).toEqual([1]);
    expect(l.fits(shape({ gpus: 1 }))).toBe(false);
    // ...while fractional requests still fit next to the first one
    expect(take(l, { gpuMemMiB: 12 * GiB })!.gpus).toEqual([0]);
    expect(l.fits(shape({ gpuMemMiB: 1 }))).toBe(false);
  });

  it('a GPU held whole takes no fractional request', () => {
    const l = new Ledger();
    l.setInventory(node(1));
    take(l, { gpus: 1 });
    expect(l.fits(shape({ gpuMemMiB: 1 }))).toBe(false);
  });

  it('packs fractional requests onto an already shared GPU before opening a free one (priority_based)', () => {
    const l = new Ledger();
    l.setInventory(node(3));
    const w = take(l, { gpus: 1 })!; // GPU 0 whole
    take(l, { gpuMemMiB: 4 * GiB }); // opens GPU 1
    l.release(w.id); // GPU 0 free again, before GPU 1 by index
    expect(take(l, { gpuMemMiB: 4 * GiB })!.gpus).toEqual([1]);
    // first fit (default picker) would have taken GPU 0
    expect(l.place(shape({ gpuMemMiB: 4 * GiB }), firstFit)!.gpuIndices).toEqual([0]);
    // a share that no longer fits the shared GPU opens the first free one
    expect(take(l, { gpuMemMiB: 12 * GiB })!.gpus).toEqual([0]);
  });

  it('whole GPUs go first fit by index', () => {
    const l = new Ledger();
    l.setInventory(node(4));
    take(l, { gpuMemMiB: 1 }); // GPU 0 shared
    expect(take(l, { gpus: 2 })!.gpus).toEqual([1, 2]);
  });

  it('unmanaged usage reduces what is free: not free as a whole, and its memory counts against shares', () => {
    const l = new Ledger();
    const inv = node(2);
    inv.gpus![0]!.usages = [usage(0, 6 * GiB)];
    l.setInventory(inv);
    expect(l.free().gpus.map((g) => [g.wholeFree, g.freeMiB, g.foreign])).toEqual([[false, 10 * GiB, 1], [true, 16 * GiB, 0]]);
    expect(l.fits(shape({ gpus: 2 }))).toBe(false);
    expect(take(l, { gpuMemMiB: 10 * GiB })!.gpus).toEqual([0]);
    expect(take(l, { gpuMemMiB: 1 })!.gpus).toEqual([1]);
  });

  it('usage by the allocation that holds the GPU is not foreign; by an ended or other allocation it is', () => {
    const l = new Ledger();
    l.setInventory(node(2));
    const a = take(l, { gpus: 1 })!;
    const inv = node(2);
    inv.gpus![0]!.usages = [usage(0, 1000, a.id)];
    inv.gpus![1]!.usages = [usage(1, 1000, a.id)]; // escaped to a GPU it does not hold
    l.setInventory(inv);
    expect(l.slots().map((s) => s.foreign.length)).toEqual([0, 1]);
    l.release(a.id);
    expect(l.slots().map((s) => s.foreign.length)).toEqual([1, 1]);
  });

  it('keeps a GPU that vanished from the inventory while an allocation holds it, then drops it', () => {
    const l = new Ledger();
    l.setInventory(node(2));
    take(l, { gpus: 1 });
    const b = take(l, { gpus: 1 })!;
    l.setInventory(node(1));
    expect(l.slots().map((s) => [s.index, s.present])).toEqual([[0, true], [1, false]]);
    expect(l.capacity.gpus).toBe(1);
    l.release(b.id);
    expect(l.slots().map((s) => s.index)).toEqual([0]);
  });

  it('refuses to book what does not fit there', () => {
    const l = new Ledger();
    l.setInventory(node(2));
    take(l, { gpus: 1 });
    expect(() => l.allocate('x', shape({ gpus: 1 }), [0], { requestId: 'r', owner: 'o', priority: 0, grantedAt: 0 })).toThrow(/GPU 0/);
    expect(() => l.allocate('x', shape({ gpus: 2 }), [1], { requestId: 'r', owner: 'o', priority: 0, grantedAt: 0 })).toThrow(/2 distinct/);
    expect(() => l.allocate('x', shape({ cpu: 9000 }), [], { requestId: 'r', owner: 'o', priority: 0, grantedAt: 0 })).toThrow(/cpu/);
    // unless forced (restoring before the inventory is known)
    l.allocate('x', shape({ cpu: 9000, gpus: 1 }), [7], { requestId: 'r', owner: 'o', priority: 0, grantedAt: 0 }, true);
    expect(l.free().cpu).toBe(0);
  });

  it('says why a request can never fit', () => {
    const l = new Ledger();
    expect(l.neverFits(shape({ cpu: 1e6 }))).toBeNull(); // nothing known yet
    l.setInventory(node(2));
    expect(l.neverFits(shape({ cpu: 8001 }))).toMatch(/8001 millicores.*8000/);
    expect(l.neverFits(shape({ memoryMiB: 20 * GiB }))).toMatch(/MiB of memory/);
    expect(l.neverFits(shape({ gpus: 3 }))).toMatch(/3 whole GPU\(s\); the node has 2/);
    expect(l.neverFits(shape({ gpuMemMiB: 17 * GiB }))).toMatch(/largest GPU has 16384 MiB/);
    expect(l.neverFits(shape({ gpus: 2, cpu: 8000 }))).toBeNull();
    l.setInventory(declaredInventory('n', { resources: { cpu: 1000, memoryMiB: 1000 } }));
    expect(l.neverFits(shape({ gpuMemMiB: 1 }))).toMatch(/no GPU/);
  });
});

describe('Ledger.inTheWay', () => {
  it('names a minimal set of holders whose release makes the request fit', () => {
    const l = new Ledger();
    l.setInventory(node(2));
    const s1 = take(l, { gpuMemMiB: 8 * GiB })!;
    const s2 = take(l, { gpuMemMiB: 8 * GiB })!;
    const whole = take(l, { gpus: 1 })!;
    const w = l.inTheWay(shape({ gpus: 1 }), 0);
    expect(w.dims).toEqual(['gpu']);
    expect(w.sufficient).toBe(true);
    // one whole-GPU holder rather than the two that share GPU 0
    expect(w.holders.map((h) => h.allocationId)).toEqual([whole.id]);
    expect(l.inTheWay(shape({ gpus: 2 }), 0).holders.map((h) => h.allocationId).sort()).toEqual([s1.id, s2.id, whole.id].sort());
  });

  it('lowerOnly when only lower-priority holders are in the way', () => {
    const l = new Ledger();
    l.setInventory(node(2));
    take(l, { gpus: 1, cpu: 1000 }, 5);
    const low = take(l, { gpus: 1, cpu: 1000 }, 1)!;
    const w = l.inTheWay(shape({ gpus: 1 }), 3);
    expect(w.holders.map((h) => h.allocationId)).toEqual([low.id]);
    expect(w.lowerOnly).toBe(true);
    const both = l.inTheWay(shape({ gpus: 2 }), 3);
    expect(both.holders).toHaveLength(2);
    expect(both.lowerOnly).toBe(false);
    expect(l.inTheWay(shape({ gpus: 1 }), 1).lowerOnly).toBe(false); // equal priority is not lower
  });

  it('lists short dimensions only, and is not sufficient when foreign usage is in the way', () => {
    const l = new Ledger();
    const inv = node(1);
    inv.gpus![0]!.usages = [usage(0, 1 * GiB)];
    l.setInventory(inv);
    const a = take(l, { cpu: 8000 })!;
    const w = l.inTheWay(shape({ cpu: 1000, gpus: 1 }), 0);
    expect(w.dims).toEqual(['cpu', 'gpu']);
    expect(w.sufficient).toBe(false);
    expect(w.holders.map((h) => h.allocationId)).toEqual([a.id]);
    expect(w.foreign).toHaveLength(1);
    expect(l.inTheWay(shape({ cpu: 1 }), 0)).toMatchObject({ dims: ['cpu'], sufficient: true });
  });
});
