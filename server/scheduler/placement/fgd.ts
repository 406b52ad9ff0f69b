/**
 * FGD — fragmentation gradient descent (Weng et al., USENIX ATC '23): a task goes to the node, and the GPU of it,
 * where the node's fragmentation (fragmentation.ts: the free GPU capacity the workload's next task could not use,
 * in expectation) grows least — the steepest descent of the cluster's fragmentation. Whole-GPU tasks take GPUs free
 * as a whole (which ones does not change the measure); a task asking a share tries each GPU with room for it.
 * Ties (e.g. empty nodes of one kind) go to the node with less free GPU capacity (packing: on the trace's cluster
 * this leaves 1-2 % fewer GPUs unallocated than a random choice among them, see bench/RESULTS.md), then at random. Each node's best move for a shape is remembered until
 * the node changes, so a placement among N nodes costs one measure for the node that changed and N look-ups.
 */
import { askKey, type Ledger, type Shape } from '../ledger.ts';
import { Best, gpuChoices, indicesOf, type PlacementInput } from './choose.ts';
import { after, type FragmentationMemo } from './fragmentation.ts';

/** Growth of the node's fragmentation for each way to place `shape` on it: [growth, GPU indices]; none when it does not fit. */
export function fragmentationGrowth(l: Ledger, shape: Shape, memo: FragmentationMemo): [number, number[]][] {
  const { free, frag } = memo.node(l);
  const seen = new Map<string, [number, number[]]>();
  for (const choice of gpuChoices(free, shape)) {
    // GPUs with the same room and size are alike: measure one of them
    const key = choice.map((p) => `${free.room[p]}/${free.size[p]}`).join(',');
    if (seen.has(key)) continue;
    seen.set(key, [memo.of(after(free, shape, choice)) - frag, indicesOf(free, choice)]);
  }
  return [...seen.values()];
}

export function fgd(shape: Shape, input: PlacementInput) {
  const best = new Best(input.random);
  const key = askKey(shape);
  for (const l of input.ledgers) {
    if (!l.fits(shape, false)) continue;
    const node = input.memo.node(l);
    let moves = node.moves.get(key);
    if (!moves) node.moves.set(key, (moves = fragmentationGrowth(l, shape, input.memo)));
    for (const [growth, gpus] of moves) best.offer(-growth, l.node, gpus, -node.freeGpus);
  }
  return best.placement;
}
