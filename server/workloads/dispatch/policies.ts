/**
 * Routing policies: which of a model's instances a task goes to. Each gets the candidates (the instances of the
 * model that are up, in registration order) with their expected wait and its error, and a seeded random source.
 *   - shortest_queue: the smallest expected wait (ties: the smaller error, then registration order);
 *   - round_robin: each in turn, per model;
 *   - weighted: smooth weighted round robin (as nginx does it), per model: over any window each instance gets its
 *     share of the weights, spread out rather than in bursts;
 *   - probabilistic: instance i with probability ∝ exp(−wait_i / τ), τ the mean expected wait of the candidates
 *     (at least `minTauMs`): shorter queues are likelier without starving the others.
 * A policy is a small object with `choose`. A custom one is an ES module whose default export is a PolicyFactory
 * (`--dispatch-policy-module`; examples/dispatch-policy.mjs), selected as `custom`.
 */
import type { DispatchPolicy } from '../../../shared/dispatch.ts';

export interface RouteCandidate {
  readonly id: string;
  /** expected wait of a task sent there now, ms */
  readonly waitMs: number;
  /** its error (standard deviation), ms */
  readonly waitSdMs: number;
  readonly weight: number;
}

export interface RoutingPolicy {
  readonly name: string;
  /** Pick one of `candidates` (never empty) for a task of `model`. */
  choose(model: string, candidates: readonly RouteCandidate[], random: () => number): RouteCandidate;
}

export const shortestQueue = (): RoutingPolicy => ({
  name: 'shortest_queue',
  choose(_model, candidates) {
    let best = candidates[0]!;
    for (const c of candidates) if (c.waitMs < best.waitMs || (c.waitMs === best.waitMs && c.waitSdMs < best.waitSdMs)) best = c;
    return best;
  },
});

export function roundRobin(): RoutingPolicy {
  const next = new Map<string, number>();
  return {
    name: 'round_robin',
    choose(model, candidates) {
      const i = next.get(model) ?? 0;
      next.set(model, i + 1);
      return candidates[i % candidates.length]!;
    },
  };
}

export function weighted(): RoutingPolicy {
  /** per model: each instance's current weight */
  const current = new Map<string, Map<string, number>>();
  return {
    name: 'weighted',
    choose(model, candidates) {
      let cur = current.get(model);
      if (!cur) current.set(model, (cur = new Map()));
      let total = 0;
      let best: RouteCandidate | null = null;
      let bestW = -Infinity;
      for (const c of candidates) {
        const w = (cur.get(c.id) ?? 0) + c.weight;
        cur.set(c.id, w);
        total += c.weight;
        if (w > bestW) {
          bestW = w;
          best = c;
        }
      }
      cur.set(best!.id, bestW - total);
      return best!;
    },
  };
}

export function probabilistic(minTauMs = 1): RoutingPolicy {
  return {
    name: 'probabilistic',
    choose(_model, candidates, random) {
      const tau = Math.max(minTauMs, candidates.reduce((s, c) => s + c.waitMs, 0) / candidates.length);
      const least = Math.min(...candidates.map((c) => c.waitMs));
      const ws = candidates.map((c) => Math.exp(-(c.waitMs - least) / tau));
      let r = random() * ws.reduce((a, b) => a + b, 0);
      for (let i = 0; i < candidates.length; i++) {
        r -= ws[i]!;
        if (r < 0) return candidates[i]!;
      }
      return candidates[candidates.length - 1]!;
    },
  };
}

export type PolicyFactory = () => RoutingPolicy;

export const POLICIES: Record<Exclude<DispatchPolicy, 'custom'>, PolicyFactory> = {
  shortest_queue: shortestQueue,
  round_robin: roundRobin,
  weighted,
  probabilistic: () => probabilistic(),
};
