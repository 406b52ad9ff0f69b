import { describe, expect, it } from 'vitest';
import { ChangeSchema, RequestInputSchema, normalizeResources } from '../../shared/scheduler.ts';
import { WorkersCreateBodySchema } from '../../shared/workers.ts';
import { UserCreateBodySchema } from '../../shared/workflows.ts';

const ok = (body: unknown) => RequestInputSchema.safeParse(body);

describe('RequestInputSchema (POST body)', () => {
  it('fills in priority 0 and preemptible false', () => {
    const r = ok({ owner: 'ana', resources: { cpu: 500 } });
    expect(r.success).toBe(true);
    expect(r.data).toEqual({ owner: 'ana', priority: 0, preemptible: false, resources: { cpu: 500 } });
  });

  it('rejects unknown fields, at the top and in resources', () => {
    expect(ok({ owner: 'a', resources: { cpu: 1 }, colour: 'red' }).success).toBe(false);
    expect(ok({ owner: 'a', resources: { cpu: 1, tpus: 1 } }).success).toBe(false);
    expect(ok({ owner: 'a', resources: { cpu: 1 }, status: 'granted' }).success).toBe(false);
  });

  it('takes non-negative integers only', () => {
    for (const resources of [{ cpu: -1 }, { cpu: 1.5 }, { memoryMiB: '10' }, { gpus: Number.NaN }]) expect(ok({ owner: 'a', resources }).success).toBe(false);
    expect(ok({ owner: 'a', priority: 0.5, resources: { cpu: 1 } }).success).toBe(false);
    expect(ok({ owner: 'a', leaseMs: 0, resources: { cpu: 1 } }).success).toBe(false);
  });

  it('needs at least one resource > 0', () => {
    const r = ok({ owner: 'a', resources: { cpu: 0, gpus: 0 } });
    expect(r.success).toBe(false);
    expect(r.error!.issues[0]!.message).toMatch(/at least one resource/);
    expect(ok({ owner: 'a', resources: {} }).success).toBe(false);
  });

  it('takes gpuMemMiB with gpus 0 or 1, not more', () => {
    expect(ok({ owner: 'a', resources: { gpuMemMiB: 8192 } }).success).toBe(true);
    expect(ok({ owner: 'a', resources: { gpus: 1, gpuMemMiB: 8192 } }).success).toBe(true);
    const r = ok({ owner: 'a', resources: { gpus: 2, gpuMemMiB: 8192 } });
    expect(r.success).toBe(false);
    expect(r.error!.issues[0]!.path).toEqual(['resources', 'gpuMemMiB']);
  });

  it('gpuModels: 1 to 16 names of 1 to 64 characters, only with a GPU ask (the issue names gpuModels)', () => {
    expect(ok({ owner: 'a', resources: { gpus: 1 }, gpuModels: ['A100'] }).data!.gpuModels).toEqual(['A100']);
    expect(ok({ owner: 'a', resources: { gpuMemMiB: 1024 }, gpuModels: ['NVIDIA A100-SXM4-80GB', 'H100'] }).success).toBe(true);
    for (const gpuModels of [[], Array.from({ length: 17 }, (_, i) => `m${i}`), [''], ['x'.repeat(65)], ['a\nb'], 'A100']) {
      expect(ok({ owner: 'a', resources: { gpus: 1 }, gpuModels }).success).toBe(false);
    }
    expect(ok({ owner: 'a', resources: { gpus: 1 }, gpuModels: ['x'.repeat(64)] }).success).toBe(true);
    const cpuOnly = ok({ owner: 'a', resources: { cpu: 1000 }, gpuModels: ['A100'] });
    expect(cpuOnly.success).toBe(false);
    expect(cpuOnly.error!.issues.map((i) => i.path)).toEqual([['gpuModels']]);
  });

  it('enforces the maxima', () => {
    expect(ok({ owner: 'a', resources: { cpu: 10_000_000 } }).success).toBe(true);
    expect(ok({ owner: 'a', resources: { cpu: 10_000_001 } }).success).toBe(false);
    expect(ok({ owner: 'a', resources: { memoryMiB: 2 ** 31 + 1 } }).success).toBe(false);
    expect(ok({ owner: 'a', resources: { gpus: 1025 } }).success).toBe(false);
    expect(ok({ owner: 'a', priority: 1_000_000, resources: { cpu: 1 } }).success).toBe(true);
    expect(ok({ owner: 'a', priority: -1_000_001, resources: { cpu: 1 } }).success).toBe(false);
    expect(ok({ owner: 'x'.repeat(257), resources: { cpu: 1 } }).success).toBe(false);
    expect(ok({ owner: '', resources: { cpu: 1 } }).success).toBe(false);
    const labels = Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, 'v']));
    expect(ok({ owner: 'a', labels, resources: { cpu: 1 } }).success).toBe(false);
    delete labels.k64;
    expect(ok({ owner: 'a', labels, resources: { cpu: 1 } }).success).toBe(true);
  });

  it('owner and group names: no control characters, no lone surrogates; any other text, emoji included', () => {
    const owner = (o: string) => RequestInputSchema.safeParse({ owner: o, resources: { cpu: 1 } });
    for (const bad of ['a\u0000b', 'line\nbreak', 'esc\u001b[31m', 'del\u007f', 'c1\u0085', 'lone\ud800', '\udc00x', 'pair-reversed\udc00\ud800']) {
      const r = owner(bad);
      expect(r.success, JSON.stringify(bad)).toBe(false);
      expect(r.error!.issues[0]!.path).toEqual(['owner']);
    }
    expect(owner('lone\ud800').error!.issues[0]!.message).toMatch(/lone surrogate/);
    for (const good of ['ana', 'Zoë Ødegård', '研究室', 'team 🚀', 'a/b:c@d']) expect(owner(good).success, good).toBe(true);
    expect(RequestInputSchema.safeParse({ owner: 'a', group: 'g\u0000', resources: { cpu: 1 } }).success).toBe(false);
    expect(UserCreateBodySchema.safeParse({ username: 'x\u0000' }).success).toBe(false);
    const workers = (owner: string) => WorkersCreateBodySchema.safeParse({ name: 'g', replicas: 1, specs: [{ cpu: 1, gpu: 0, mem: 1, cmd: 'x' }], owner });
    expect([workers('a').success, workers('a\u0007').success]).toEqual([true, false]);
  });

  it('normalises resources: absent figures 0, gpuMemMiB only when fractional', () => {
    expect(normalizeResources({ gpus: 2 })).toEqual({ cpu: 0, memoryMiB: 0, gpus: 2 });
    expect(normalizeResources({ gpuMemMiB: 0, cpu: 5 })).toEqual({ cpu: 5, memoryMiB: 0, gpus: 0 });
    expect(normalizeResources({ gpuMemMiB: 100 })).toEqual({ cpu: 0, memoryMiB: 0, gpus: 0, gpuMemMiB: 100 });
  });

  it('change records have a schema', () => {
    expect(ChangeSchema.safeParse({ kind: 'strategy_changed', at: 1, strategy: 'priority_based', previous: 'priority_based' }).success).toBe(true);
    expect(ChangeSchema.safeParse({ kind: 'request_exploded', at: 1 }).success).toBe(false);
  });
});
