/**
 * Where time-sliced requests go while GPUs are claimed by holders waiting for them (pure functions of the cluster):
 * outside the claimed GPUs (a pass, while holders are suspended), or on the GPUs whose claims rank worst (a rotation).
 */
import type { Cluster, Placement } from './cluster.ts';
import { gpusFor } from './gpu-models.ts';
import type { Ledger, Shape } from './ledger.ts';

/** The GPUs of `l` a request of `shape` could take now (of its models: a share with room, or a free slot). */
function gpusWithRoom(l: Ledger, shape: Shape) {
  return gpusFor(l, shape).filter((g) => (shape.fracMiB > 0 ? l.shareRoom(g) >= shape.fracMiB : l.freeSlots(g) > 0));
}

/** GPUs `shape` needs on one node: one for a share, else its whole GPUs. */
function gpusNeeded(shape: Shape): number {
  return shape.fracMiB > 0 ? 1 : shape.whole;
}

/** The first node (in order) with room for `shape` on GPUs outside `claims` (`node:gpu`), fewest holders first. */
export function placeUnclaimed(cluster: Cluster, shape: Shape, claims: ReadonlySet<string>): Placement | null {
  for (const l of cluster.placeableFor(shape)) {
    if (!l.fits(shape)) continue;
    const need = gpusNeeded(shape);
    if (need === 0) return { node: l.node, gpuIndices: [] };
    const room = gpusWithRoom(l, shape)
      .filter((g) => !claims.has(`${l.node}:${g.index}`))
      .sort((a, b) => l.freeSlots(b) - l.freeSlots(a) || a.index - b.index);
    if (room.length >= need) return { node: l.node, gpuIndices: room.slice(0, need).map((g) => g.index).sort((a, b) => a - b) };
  }
  return null;
}

/**
 * Rotation placement of a waiting request: on each node the GPUs with room ordered by the rank of the holder that
 * claims them (unclaimed first, then the worst-ranked claims); the node whose chosen GPUs have the best worst claim.
 */
export function placeAvoidingClaims(cluster: Cluster, shape: Shape, claim: ReadonlyMap<string, number>): Placement | null {
  let best: Placement | null = null;
  let bestKey = -Infinity;
  for (const l of cluster.nodesFor(shape)) {
    if (!l.fits(shape)) continue;
    const need = gpusNeeded(shape);
    if (need === 0) return { node: l.node, gpuIndices: [] };
    const room = gpusWithRoom(l, shape)
      .map((g) => ({ g, rank: claim.get(`${l.node}:${g.index}`) ?? Infinity }))
      .sort((a, b) => b.rank - a.rank || a.g.index - b.g.index);
    if (room.length < need) continue;
    const chosen = room.slice(0, need);
    const key = chosen[need - 1]!.rank;
    if (key > bestKey) {
      bestKey = key;
      best = { node: l.node, gpuIndices: chosen.map((x) => x.g.index).sort((a, b) => a - b) };
    }
  }
  return best;
}
