/**
 * GPU models: which GPUs a request that names models (`gpuModels`, a shape's `models`) may use — the one matching
 * rule, used by the ledger, the placements and the fragmentation measure — and the GPU side of fit and never-fits
 * over those GPUs (pure).
 *
 * A name matches a GPU when, ignoring case, it equals the GPU's name (the model nvidia-smi reports, or the one a
 * node is declared with), or its words — runs of letters and digits — appear in a row among the words of that name:
 * `A100` and `a100-sxm4` match `NVIDIA A100-SXM4-80GB`, `RTX 4090` matches `NVIDIA GeForce RTX 4090`, `V100M16`
 * matches `V100M16`; `A10` matches `NVIDIA A10` but not `NVIDIA A100-PCIE-40GB`, and `V100` does not match `V100M32`.
 */
import type { GpuSlot, GpuView, Shape } from './ledger-types.ts';
import type { Ledger } from './ledger.ts';

const words = (s: string): string[] => s.toLowerCase().split(/[^\p{L}\p{N}]+/u).filter(Boolean);

/** One name against one GPU name (the rule above). */
function nameMatches(name: string, gpuName: string): boolean {
  if (name.toLowerCase() === gpuName.toLowerCase()) return true;
  const want = words(name);
  if (!want.length) return false;
  const have = words(gpuName);
  next: for (let i = 0; i + want.length <= have.length; i++) {
    for (let j = 0; j < want.length; j++) if (have[i + j] !== want[j]) continue next;
    return true;
  }
  return false;
}

/** answers per list of names (a request, a shape and a task type keep theirs) and GPU name */
const answers = new WeakMap<readonly string[], Map<string, boolean>>();

/** Whether a GPU named `gpuName` is of one of `models` (the rule above). */
export function matchesGpuModel(models: readonly string[], gpuName: string): boolean {
  let byName = answers.get(models);
  if (!byName) answers.set(models, (byName = new Map()));
  let yes = byName.get(gpuName);
  if (yes === undefined) byName.set(gpuName, (yes = models.some((m) => nameMatches(m, gpuName))));
  return yes;
}

/** The GPUs of `l` that `shape` may use: all of them, or those of its models. */
export function gpusFor(l: Pick<Ledger, 'slots'>, shape: Shape): readonly GpuSlot[] {
  const models = shape.models;
  return models ? l.slots().filter((s) => matchesGpuModel(models, s.name)) : l.slots();
}

/** The ledger as a GpuPicker sees it for `shape`: only the GPUs it may use. */
export function gpuViewFor(l: Ledger, shape: Shape): GpuView {
  if (!shape.models) return l;
  const slots = gpusFor(l, shape);
  return { node: l.node, slots: () => slots, shareRoom: (s) => l.shareRoom(s), isWholeFree: (s) => l.isWholeFree(s), freeSlots: (s) => l.freeSlots(s), multiSlot: l.multiSlot };
}

/** Whether the GPUs `shape` asks for (some) fit on the GPUs of `l` it may use, now. */
export function gpusFit(l: Ledger, shape: Shape): boolean {
  let free = 0;
  for (const s of gpusFor(l, shape)) {
    if (shape.fracMiB > 0) {
      if (l.shareRoom(s) >= shape.fracMiB) return true;
    } else if ((free += l.multiSlot ? l.freeSlots(s) : l.isWholeFree(s) ? 1 : 0) >= shape.whole) return true;
  }
  return false;
}

/** The models of a shape, for messages: `A100 or H100`. */
export const modelsText = (models: readonly string[]): string => models.join(' or ');

/** Why the GPUs `shape` asks for can never fit the GPUs of its models on `l`, even empty; null when they could. */
export function modelsNeverFit(l: Ledger, shape: Shape, models: readonly string[]): string | null {
  const gpus = l.slots().filter((s) => s.present && matchesGpuModel(models, s.name));
  const of = `of model ${modelsText(models)}`;
  if (!gpus.length) {
    const here = [...new Set(l.slots().filter((s) => s.present).map((s) => s.name))];
    return `needs a GPU ${of}; the node has none (${here.length ? `its GPUs: ${here.join(', ')}` : 'no GPU'})`;
  }
  if (shape.whole > gpus.length) return `needs ${shape.whole} whole GPU(s) ${of}; the node has ${gpus.length}`;
  const largest = Math.max(...gpus.map((s) => s.memoryMiB));
  if (shape.fracMiB > largest) return `needs ${shape.fracMiB} MiB of one GPU ${of}; the largest has ${largest} MiB`;
  return null;
}

/** The nodes with a GPU of each list of models asked (by its JSON), kept while `epoch` (the capacity) stays the same. */
export class NodesByModels {
  private readonly byKey = new Map<string, readonly Ledger[]>();
  private epoch = -1;

  of(ledgers: readonly Ledger[], models: readonly string[], epoch: number): readonly Ledger[] {
    if (epoch !== this.epoch || this.byKey.size >= 1024) {
      this.byKey.clear();
      this.epoch = epoch;
    }
    const key = JSON.stringify(models);
    let list = this.byKey.get(key);
    if (!list) this.byKey.set(key, (list = ledgers.filter((l) => l.slots().some((s) => s.present && matchesGpuModel(models, s.name)))));
    return list;
  }
}
