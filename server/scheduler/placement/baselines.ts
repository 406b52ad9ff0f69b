/**
 * The baselines FGD is measured against in its paper (Weng et al., USENIX ATC '23, §6), each written here from its
 * description; every one places only where the request fits, breaks ties at random (choose.ts) and, for a share of
 * a GPU, picks among the GPUs with room for it:
 * - random: a node where it fits, uniformly; a GPU with room, uniformly.
 * - dot_product (Tetris' alignment, as the paper's baseline scores it): the node and GPU that minimise the dot
 *   product of the request and the node's free resources, both as fractions of the node (cpu, memory, GPU: the
 *   chosen GPU's free fraction for a share, free whole GPUs ÷ GPUs for whole ones).
 * - gpu_clustering: tasks of one GPU request (the same share, or the same number of whole GPUs) are kept together —
 *   first nodes that host only that request, then nodes that host it among others, then idle nodes, then nodes of
 *   other requests; within a rank, the node with less free GPU capacity. GPU: best fit (least room that fits).
 * - gpu_packing: first a GPU already shared (the one with the least room left), then free GPUs of a node already in
 *   use, then an idle node (the one with fewest GPUs). GPU: best fit.
 * - best_fit: the node whose free cpu and GPU capacity after placing, each ÷ the largest node's, weighted ½ each, is
 *   least. GPU: best fit.
 * Tasks without GPUs score alike on the GPU-only rules (gpu_clustering, gpu_packing): they go to a random node.
 */
import type { Holding, Ledger, Shape } from '../ledger.ts';
import { Best, gpuChoices, gpuDemand, indicesOf, type PlacementInput, type Placer } from './choose.ts';
import { freeGpus, type NodeFree } from './fragmentation.ts';
import { fgd } from './fgd.ts';

function eachFit(shape: Shape, input: PlacementInput, visit: (l: Ledger, n: NodeFree, best: Best) => void) {
  const best = new Best(input.random);
  for (const l of input.ledgers) if (l.fits(shape, false)) visit(l, input.memo.node(l).free, best);
  return best.placement;
}

/** Positions of the GPU with the least room that still takes the share (whole GPUs: the first free ones). */
function bestFitChoice(n: NodeFree, shape: Shape): number[] | null {
  const choices = gpuChoices(n, shape);
  if (!choices.length) return null;
  if (shape.fracMiB <= 0) return choices[0]!;
  let best = choices[0]!;
  for (const c of choices) if (n.room[c[0]!]! - shape.fracMiB < n.room[best[0]!]! - shape.fracMiB) best = c;
  return best;
}

export const random: Placer = (shape, input) => eachFit(shape, input, (l, n, best) => {
  const choices = gpuChoices(n, shape);
  if (!choices.length) return;
  best.offer(0, l.node, indicesOf(n, choices[Math.floor(input.random() * choices.length)]!));
});

export const dotProduct: Placer = (shape, input) => eachFit(shape, input, (l, n, best) => {
  const cap = l.capacity;
  const cpu = cap.cpu ? (shape.cpu / cap.cpu) * (n.cpu / cap.cpu) : 0;
  const mem = cap.memoryMiB ? (shape.memoryMiB / cap.memoryMiB) * (n.memoryMiB / cap.memoryMiB) : 0;
  const gpus = n.room.length;
  for (const c of gpuChoices(n, shape)) {
    let gpu = 0;
    if (shape.fracMiB > 0) {
      const size = n.size[c[0]!]!;
      gpu = size ? (shape.fracMiB / size) * (n.room[c[0]!]! / size) : 0;
    } else if (shape.whole > 0) {
      gpu = (shape.whole / gpus) * (n.whole.filter(Boolean).length / gpus);
    }
    best.offer(-(cpu + mem + gpu), l.node, indicesOf(n, c));
  }
});

/** A GPU request's class: its share in MiB, or its number of whole GPUs; null without GPUs. */
const gpuClass = (s: Shape): string | null => (s.fracMiB > 0 ? `share:${s.fracMiB}` : s.whole > 0 ? `whole:${s.whole}` : null);

const classesOf = new WeakMap<Ledger, { version: number; classes: Set<string> }>();

/** The GPU request classes of a node's holdings (remembered until the node changes). */
function nodeClasses(l: Ledger): Set<string> {
  let c = classesOf.get(l);
  if (c?.version !== l.version) {
    const classes = new Set<string>();
    for (const h of l.holdingsList() as Iterable<Holding>) {
      const k = gpuClass(h.shape);
      if (k !== null) classes.add(k);
    }
    classesOf.set(l, (c = { version: l.version, classes }));
  }
  return c.classes;
}

export const gpuClustering: Placer = (shape, input) => {
  const mine = gpuClass(shape);
  const largest = Math.max(1, ...input.ledgers.map((l) => l.capacity.gpus ?? 0));
  return eachFit(shape, input, (l, n, best) => {
    const c = bestFitChoice(n, shape);
    if (!c) return;
    if (mine === null) return best.offer(0, l.node, indicesOf(n, c));
    const classes = nodeClasses(l);
    const rank = classes.has(mine) ? (classes.size === 1 ? 3 : 2) : classes.size === 0 ? 1 : 0;
    best.offer(rank + (1 - freeGpus(n) / largest), l.node, indicesOf(n, c));
  });
};

export const gpuPacking: Placer = (shape, input) => eachFit(shape, input, (l, n, best) => {
  const c = bestFitChoice(n, shape);
  if (!c) return;
  if (shape.fracMiB <= 0 && shape.whole === 0) return best.offer(0, l.node, []);
  const idle = n.whole.every(Boolean);
  let score: number;
  if (idle) score = 1 - n.room.length / 1000;
  else if (c.some((p) => n.whole[p])) score = 2 - c.filter((p) => n.whole[p]).length / 1000;
  else score = 4 - n.room[c[0]!]! / (n.size[c[0]!]! || 1);
  best.offer(score, l.node, indicesOf(n, c));
});

export const bestFit: Placer = (shape, input) => {
  let maxCpu = 1;
  let maxGpus = 1;
  for (const l of input.ledgers) {
    maxCpu = Math.max(maxCpu, l.capacity.cpu ?? 0);
    maxGpus = Math.max(maxGpus, l.capacity.gpus ?? 0);
  }
  return eachFit(shape, input, (l, n, best) => {
    const c = bestFitChoice(n, shape);
    if (!c) return;
    const gpu = freeGpus(n) - (c.length ? gpuDemand(shape, n.size[c[0]!]!) : 0);
    best.offer(-(0.5 * (n.cpu - shape.cpu) / maxCpu + 0.5 * gpu / maxGpus), l.node, indicesOf(n, c));
  });
};

/** Every placement by name: FGD and its paper's baselines. */
export const PLACERS = {
  fgd,
  random,
  dot_product: dotProduct,
  gpu_clustering: gpuClustering,
  gpu_packing: gpuPacking,
  best_fit: bestFit,
} as const satisfies Record<string, Placer>;
export type PlacerName = keyof typeof PLACERS;
