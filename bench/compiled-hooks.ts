/**
 * Module resolution hooks registered by bench/compiled.ts (after tsx's): an import that resolves to a TypeScript
 * source under server/ or shared/ loads its compiled module in the build instead (server/x.ts → dist/node/server/x.js).
 */
import type { InitializeHook, ResolveHook } from 'node:module';

export interface CompiledModules {
  /** file URL of the repository, ending in / */
  root: string;
  /** file URL of the build, ending in / */
  build: string;
}

let dirs: CompiledModules = { root: '', build: '' };

export const initialize: InitializeHook<CompiledModules> = (data) => {
  dirs = data;
};

export const resolve: ResolveHook = async (specifier, context, nextResolve) => {
  const resolved = await nextResolve(specifier, context);
  const rel = resolved.url.startsWith(dirs.root) ? resolved.url.slice(dirs.root.length) : '';
  if (!/^(server|shared)\/.*\.ts$/.test(rel)) return resolved;
  return { url: `${dirs.build}${rel.slice(0, -3)}.js`, format: 'module', shortCircuit: true };
};
