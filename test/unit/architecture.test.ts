/**
 * The layers of ARCHITECTURE.md, checked on the import graph (every import, export-from, dynamic import and
 * import type of server/, shared/ and web/src/, read with TypeScript's parser): a module imports only from its
 * own layer or below, the core (server/scheduler/) imports no runtime module, and the dashboard imports nothing
 * at run time that would pull zod into its bundle.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');

interface Edge {
  from: string;
  to: string;
  typeOnly: boolean;
}

/** Every import of one file: relative ones resolved to a repo path, packages and node: modules as they are written. */
export function importsOf(file: string, text: string): Edge[] {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, false, file.endsWith('x') ? ts.ScriptKind.TSX : ts.ScriptKind.TS);
  const out: Edge[] = [];
  const add = (spec: string, typeOnly: boolean) => {
    const to = spec.startsWith('.') ? relative(ROOT, resolve(ROOT, dirname(file), spec)) : spec;
    out.push({ from: file, to, typeOnly });
  };
  const visit = (n: ts.Node): void => {
    if (ts.isImportDeclaration(n) && ts.isStringLiteral(n.moduleSpecifier)) {
      const c = n.importClause;
      const named = c?.namedBindings && ts.isNamedImports(c.namedBindings) ? c.namedBindings.elements : undefined;
      const typeOnly = !!c && (c.isTypeOnly || (!c.name && !!named && named.length > 0 && named.every((e) => e.isTypeOnly)));
      add(n.moduleSpecifier.text, typeOnly);
    } else if (ts.isExportDeclaration(n) && n.moduleSpecifier && ts.isStringLiteral(n.moduleSpecifier)) {
      const named = n.exportClause && ts.isNamedExports(n.exportClause) ? n.exportClause.elements : undefined;
      add(n.moduleSpecifier.text, n.isTypeOnly || (!!named && named.length > 0 && named.every((e) => e.isTypeOnly)));
    } else if (ts.isCallExpression(n) && n.expression.kind === ts.SyntaxKind.ImportKeyword && n.arguments[0] && ts.isStringLiteral(n.arguments[0])) {
      add(n.arguments[0].text, false);
    } else if (ts.isImportTypeNode(n) && ts.isLiteralTypeNode(n.argument) && ts.isStringLiteral(n.argument.literal)) {
      add(n.argument.literal.text, true);
    }
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return out;
}

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(join(ROOT, dir))) {
    const p = join(dir, name);
    if (statSync(join(ROOT, p)).isDirectory()) out.push(...sources(p));
    else if (/\.tsx?$/.test(name) && !name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

/**
 * Layers, lowest first: a module may import from its own layer and those below. Where two folders share a layer
 * and must still not know each other, FORBIDDEN says so.
 */
const LAYERS: [string, RegExp][] = [
  ['shared', /^shared\//],
  ['leaf', /^server\/(clock|errors|rng|log|version|paths)\.ts$/],
  ['core', /^server\/(scheduler|monitor|hints|workloads\/(dispatch|workers|workflows))\//],
  ['services', /^server\/(sim|store|push)\//],
  ['runtime', /^server\/(runtime\/|instance\/|worker\/|agent\/|config\.ts)/],
  ['edge', /^server\/(http\/|metrics\.ts)/],
  ['wiring', /^server\/(app|main|webbuild|docs|replica|push-workers|push-worker|push-transports)\.ts$/],
];

const FORBIDDEN: [RegExp, RegExp, string][] = [
  [/^server\/scheduler\//, /^server\/(monitor|hints)\//, 'the scheduler core knows nothing of the monitor or hints'],
  [/^server\/(monitor|hints)\//, /^server\/scheduler\/(?!inventory|ledger)/, 'the monitor and hints read the core only through its inventory and ledger types'],
  [/^server\/push\//, /^server\/(store|sim)\//, 'push defines the archive and id-store interfaces the store implements'],
  [/^server\/store\//, /^server\/(sim|push\/(?!hub))/, 'the store implements the hub interfaces only'],
  [/^server\/sim\//, /^server\/(store|push)\//, 'the simulator depends on the core only'],
  [/^server\/(scheduler|workloads)\//, /^node:(?!crypto)/, 'the core does no I/O'],
  [/^server\/(?!main\.ts$|instance\/)/, /^server\/instance\//, 'the reference instance is a program of its own: only the CLI starts it'],
  [/^server\/(?!main\.ts$|worker\/)/, /^server\/worker\//, 'the worker runtime is a program of its own: only the CLI starts it'],
  [/^server\/(?!main\.ts$|agent\/)/, /^server\/agent\//, 'the agent is a program of its own: only the CLI starts it'],
];

const layerOf = (path: string): number => LAYERS.findIndex(([, re]) => re.test(path));

/** What breaks the layering in a set of edges (empty: none). */
export function violations(edges: readonly Edge[]): string[] {
  const out: string[] = [];
  for (const e of edges) {
    const from = layerOf(e.from);
    const to = layerOf(e.to);
    if (from >= 0 && to >= 0 && to > from) out.push(`${e.from} (${LAYERS[from]![0]}) imports ${e.to} (${LAYERS[to]![0]}), a higher layer`);
    for (const [a, b, why] of FORBIDDEN) if (a.test(e.from) && b.test(e.to)) out.push(`${e.from} imports ${e.to}: ${why}`);
    if (e.from.startsWith('web/') && e.to.startsWith('server/')) out.push(`${e.from} imports ${e.to}: the dashboard talks to the server only through shared/ types`);
    if (e.from.startsWith('shared/') && (e.to.startsWith('server/') || e.to.startsWith('web/'))) out.push(`${e.from} imports ${e.to}: shared/ imports neither side`);
  }
  return out;
}

const FILES = [...sources('server'), ...sources('shared'), ...sources('web/src'), ...sources('clients/typescript')];
const EDGES = FILES.flatMap((f) => importsOf(f, readFileSync(join(ROOT, f), 'utf8')));

/** Files that load zod at run time, directly or through their value imports. */
function zodLoaders(edges: readonly Edge[]): Set<string> {
  const values = new Map<string, string[]>();
  for (const e of edges) if (!e.typeOnly) values.set(e.from, [...(values.get(e.from) ?? []), e.to]);
  const memo = new Map<string, boolean>();
  const loads = (f: string, seen = new Set<string>()): boolean => {
    if (f === 'zod' || f.startsWith('zod/')) return true;
    if (memo.has(f)) return memo.get(f)!;
    if (seen.has(f)) return false;
    seen.add(f);
    const r = (values.get(f) ?? []).some((t) => loads(t, seen));
    memo.set(f, r);
    return r;
  };
  return new Set(FILES.filter((f) => loads(f)));
}

describe('architecture: the import graph', () => {
  it('reads the imports it checks (the graph is not empty and sees type-only imports)', () => {
    expect(FILES.length).toBeGreaterThan(100);
    expect(EDGES.some((e) => e.from === 'server/scheduler/engine.ts' && e.to === 'server/scheduler/assemble.ts')).toBe(true);
    expect(EDGES.some((e) => e.from.startsWith('web/') && e.to.startsWith('shared/') && e.typeOnly)).toBe(true);
  });

  it('finds a core module importing the runtime layer, and a push module importing http (the check can fail)', () => {
    const bad = [
      ...importsOf('server/scheduler/engine.ts', "import { SchedulerService } from '../runtime/scheduler-service.ts';"),
      ...importsOf('server/push/sse.ts', "import type { Auth } from '../http/auth.ts';"),
      ...importsOf('server/scheduler/pass.ts', "import { readFileSync } from 'node:fs';"),
    ];
    const found = violations(bad);
    expect(found).toHaveLength(3);
    expect(found[0]).toMatch(/server\/scheduler\/engine\.ts \(core\) imports server\/runtime\/scheduler-service\.ts \(runtime\)/);
    expect(found.join('\n')).toMatch(/push\/sse\.ts \(services\) imports server\/http\/auth\.ts \(edge\)/);
    expect(found.join('\n')).toMatch(/node:fs: the core does no I\/O/);
  });

  it('only the CLI starts the agent: main.ts may import it, the app and the runtime may not', () => {
    expect(violations(importsOf('server/main.ts', "const m = await import('./agent/cli.ts');"))).toEqual([]);
    expect(violations(importsOf('server/agent/cli.ts', "import { startAgent } from './agent.ts';"))).toEqual([]);
    expect(violations(importsOf('server/app.ts', "import { AgentLink } from './agent/link.ts';"))).toEqual([
      'server/app.ts imports server/agent/link.ts: the agent is a program of its own: only the CLI starts it',
    ]);
    expect(violations(importsOf('server/runtime/agents/gateway.ts', "import type { LinkState } from '../../agent/link.ts';"))).toHaveLength(1);
    expect(layerOf('server/agent/agent.ts')).toBe(LAYERS.findIndex(([name]) => name === 'runtime'));
  });

  it('every server/ and shared/ module belongs to a layer', () => {
    expect(FILES.filter((f) => !f.startsWith('web/') && !f.startsWith('clients/') && layerOf(f) < 0)).toEqual([]);
  });

  it('keeps the layers: nothing imports upwards, the core imports no runtime module', () => {
    expect(violations(EDGES)).toEqual([]);
  });

  it('the dashboard imports nothing at run time that loads zod', () => {
    const loaders = zodLoaders(EDGES);
    const bad = EDGES.filter((e) => e.from.startsWith('web/') && !e.typeOnly && loaders.has(e.to)).map((e) => `${e.from} → ${e.to}`);
    expect(bad).toEqual([]);
    // the check sees zod where it is: the shared schemas load it
    expect(loaders.has('shared/scheduler.ts')).toBe(true);
  });

  it('the TypeScript client imports only shared/, and nothing at run time that loads zod', () => {
    const client = EDGES.filter((e) => e.from.startsWith('clients/typescript/'));
    expect(client.length).toBeGreaterThan(0);
    expect(client.filter((e) => !e.to.startsWith('shared/')).map((e) => `${e.from} → ${e.to}`)).toEqual([]);
    const loaders = zodLoaders(EDGES);
    expect(client.filter((e) => !e.typeOnly && loaders.has(e.to)).map((e) => `${e.from} → ${e.to}`)).toEqual([]);
  });
});
