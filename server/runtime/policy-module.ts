/**
 * The `custom` routing policy: an ES module (`--dispatch-policy-module`) whose default export makes a RoutingPolicy
 * (`{name, choose(model, candidates, random)}`, server/workloads/dispatch/policies.ts). Checked when it is loaded,
 * so a module that does not fit stops the start with one line saying why.
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { PolicyFactory, RoutingPolicy } from '../workloads/dispatch/policies.ts';

export async function loadPolicyModule(path: string | undefined): Promise<PolicyFactory | undefined> {
  if (path === undefined) return undefined;
  let mod: { default?: unknown };
  try {
    mod = (await import(pathToFileURL(resolve(path)).href)) as { default?: unknown };
  } catch (err) {
    throw new Error(`--dispatch-policy-module ${path}: cannot load it (${(err as Error).message.split('\n')[0]})`);
  }
  const make = mod.default;
  if (typeof make !== 'function') throw new Error(`--dispatch-policy-module ${path}: its default export must be a function that returns a routing policy`);
  const check = (): RoutingPolicy => {
    const p = (make as () => unknown)() as Partial<RoutingPolicy> | null;
    if (!p || typeof p.name !== 'string' || typeof p.choose !== 'function') {
      throw new Error(`--dispatch-policy-module ${path}: its default export must return {name, choose(model, candidates, random)}`);
    }
    return p as RoutingPolicy;
  };
  check();
  return check;
}
