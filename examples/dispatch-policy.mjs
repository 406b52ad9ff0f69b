/**
 * A custom routing policy for Arbiter's task dispatch: risk-averse shortest queue. It sends a task to the instance
 * whose wait is shortest at its pessimistic end — expected wait plus twice its error — so an instance whose queue
 * holds tasks of very uncertain length is avoided even when its expected wait is a little shorter.
 *
 *   arbiter serve --dispatch-policy-module examples/dispatch-policy.mjs --dispatch-policy custom
 *   (or PUT /api/dispatch/policy {"policy": "custom"} with the admin token)
 *
 * The default export makes the policy (called once at start and once per switch to it). A policy is
 * `{name, choose(model, candidates, random)}`: `candidates` (never empty) are the model's instances that are up, in
 * registration order, each `{id, waitMs, waitSdMs, weight}`; `random()` is Arbiter's seeded random source in [0, 1).
 * `choose` returns one of the candidates; it runs for every task, so keep it cheap and free of I/O.
 */
export default function makePolicy() {
  return {
    name: 'pessimistic_shortest_queue',
    choose(_model, candidates) {
      let best = candidates[0];
      let bestBound = best.waitMs + 2 * best.waitSdMs;
      for (const c of candidates) {
        const bound = c.waitMs + 2 * c.waitSdMs;
        if (bound < bestBound) {
          best = c;
          bestBound = bound;
        }
      }
      return best;
    },
  };
}
