/**
 * A form model from a JSON Schema (the subset zod's toJSONSchema writes for the strategies' configs): objects
 * become groups, booleans checkboxes, numbers and integers text inputs, string enums menus, arrays of numbers a
 * comma-separated list, records (`additionalProperties` of a type) rows of name and value; anything else is
 * edited as JSON. Values are kept as typed and turned into the config when sent, so the server's 400 can name
 * what is wrong. Pure: no DOM, no React.
 */

export interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean | JsonSchema;
  items?: JsonSchema;
  enum?: unknown[];
  const?: unknown;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  minItems?: number;
  maxItems?: number;
  default?: unknown;
  description?: string;
  title?: string;
}

export type FieldKind = 'number' | 'integer' | 'boolean' | 'enum' | 'string' | 'numberList' | 'record' | 'json';

export interface LeafField {
  kind: FieldKind;
  /** dotted path from the config root, e.g. `preemption.gracePeriodMs` */
  path: string;
  label: string;
  schema: JsonSchema;
  /** what the server uses when the field is left out */
  defaultValue: unknown;
  /** e.g. `integer 0–86400000` */
  constraint: string;
  options?: readonly string[];
  /** record: the schema of each value */
  valueKind?: 'number' | 'integer' | 'string' | 'boolean';
}

export interface GroupField {
  kind: 'group';
  path: string;
  label: string;
  description?: string;
  children: FormNode[];
}

export type FormNode = LeafField | GroupField;

/** A record's rows as edited: name and value text. */
export interface RecordRow {
  key: string;
  value: string;
}

/** Form state: one entry per leaf path; text for numbers, lists and JSON, booleans, rows for records. */
export type Draft = Record<string, string | boolean | RecordRow[]>;

const typeOf = (s: JsonSchema): string | undefined => (Array.isArray(s.type) ? s.type.find((t) => t !== 'null') : s.type);

/** `gracePeriodMs` → `grace period (ms)`, `jain` → `jain` */
export function humanize(name: string): string {
  const unit = /(Ms|MiB|Percent)$/.exec(name)?.[1];
  const stem = unit ? name.slice(0, -unit.length) : name;
  const words = stem.replace(/([a-z0-9])([A-Z])/g, '$1 $2').toLowerCase();
  const u = unit === 'Ms' ? 'ms' : unit === 'Percent' ? '%' : unit;
  return u ? `${words} (${u})` : words;
}

const BIG = 9_007_199_254_740_991;

function constraint(s: JsonSchema, kind: string): string {
  const lo = s.minimum ?? (s.exclusiveMinimum !== undefined ? `>${s.exclusiveMinimum}` : undefined);
  const hi = s.maximum ?? (s.exclusiveMaximum !== undefined ? `<${s.exclusiveMaximum}` : undefined);
  const range = [lo !== undefined && lo !== -BIG ? String(lo) : '', hi !== undefined && hi !== BIG ? String(hi) : ''];
  const r = range[0] || range[1] ? ` ${range[0]}–${range[1]}` : '';
  return `${kind}${r}`;
}

function valueKindOf(s: JsonSchema): LeafField['valueKind'] | undefined {
  const t = typeOf(s);
  return t === 'number' || t === 'integer' || t === 'string' || t === 'boolean' ? t : undefined;
}

/** The form's tree for a config schema (the root's properties, in the schema's order). */
export function formTree(schema: JsonSchema): FormNode[] {
  return children(schema, '');
}

function children(schema: JsonSchema, prefix: string): FormNode[] {
  return Object.entries(schema.properties ?? {}).map(([name, s]) => node(name, s, prefix ? `${prefix}.${name}` : name));
}

function node(name: string, s: JsonSchema, path: string): FormNode {
  const label = s.title ?? humanize(name);
  const t = typeOf(s);
  const leaf = (kind: FieldKind, extra: Partial<LeafField> = {}): LeafField => ({
    kind,
    path,
    label,
    schema: s,
    defaultValue: s.default,
    constraint: kind === 'number' || kind === 'integer' ? constraint(s, kind) : kind,
    ...extra,
  });
  if (Array.isArray(s.enum) && s.enum.every((x) => typeof x === 'string')) return leaf('enum', { options: s.enum as string[], constraint: 'one of the list' });
  if (t === 'object' && s.properties) {
    return { kind: 'group', path, label, ...(s.description ? { description: s.description } : {}), children: children(s, path) };
  }
  if (t === 'object' && typeof s.additionalProperties === 'object') {
    const vk = valueKindOf(s.additionalProperties);
    if (vk) return leaf('record', { valueKind: vk, constraint: `name → ${constraint(s.additionalProperties, vk)}` });
  }
  if (t === 'boolean') return leaf('boolean');
  if (t === 'integer') return leaf('integer');
  if (t === 'number') return leaf('number');
  if (t === 'string') return leaf('string');
  if (t === 'array' && s.items && (typeOf(s.items) === 'number' || typeOf(s.items) === 'integer')) {
    return leaf('numberList', { constraint: `numbers, comma-separated${s.maxItems !== undefined ? `, at most ${s.maxItems}` : ''}` });
  }
  return leaf('json', { constraint: 'JSON' });
}

export function leaves(nodes: readonly FormNode[]): LeafField[] {
  return nodes.flatMap((n) => (n.kind === 'group' ? leaves(n.children) : [n]));
}

function at(obj: unknown, path: string): unknown {
  let cur = obj;
  for (const k of path.split('.')) {
    if (typeof cur !== 'object' || cur === null) return undefined;
    cur = (cur as Record<string, unknown>)[k];
  }
  return cur;
}

/** The draft showing `config` (missing figures: the schema's defaults). */
export function draftOf(nodes: readonly FormNode[], config: Record<string, unknown>): Draft {
  const d: Draft = {};
  for (const f of leaves(nodes)) {
    const v = at(config, f.path) ?? f.defaultValue;
    switch (f.kind) {
      case 'boolean':
        d[f.path] = v === true;
        break;
      case 'record':
        d[f.path] = Object.entries((typeof v === 'object' && v !== null ? v : {}) as Record<string, unknown>).map(([key, value]) => ({ key, value: String(value) }));
        break;
      case 'numberList':
        d[f.path] = Array.isArray(v) ? v.join(', ') : '';
        break;
      case 'json':
        d[f.path] = v === undefined ? '' : JSON.stringify(v);
        break;
      default:
        d[f.path] = v === undefined || v === null ? '' : String(v);
    }
  }
  return d;
}

/** A number as typed, or the text itself when it is not one (the server then names the field). */
function parseNumber(text: string): number | string {
  const t = text.trim();
  return t !== '' && Number.isFinite(Number(t)) ? Number(t) : t;
}

function parseScalar(text: string, kind: LeafField['valueKind'] | FieldKind): unknown {
  if (kind === 'number' || kind === 'integer') return parseNumber(text);
  if (kind === 'boolean') return text.trim() === 'true' ? true : text.trim() === 'false' ? false : text;
  return text;
}

function setAt(obj: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split('.');
  let cur = obj;
  for (const k of keys.slice(0, -1)) {
    const next = cur[k];
    if (typeof next !== 'object' || next === null) cur[k] = {};
    cur = cur[k] as Record<string, unknown>;
  }
  cur[keys[keys.length - 1]!] = value;
}

/** The config to send from the draft; empty number fields are left out (their default applies). */
export function configOf(nodes: readonly FormNode[], draft: Draft): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of leaves(nodes)) {
    const v = draft[f.path];
    if (v === undefined) continue;
    switch (f.kind) {
      case 'boolean':
        setAt(out, f.path, v === true);
        break;
      case 'record': {
        const rows = Array.isArray(v) ? v : [];
        const rec: Record<string, unknown> = {};
        for (const r of rows) if (r.key.trim()) rec[r.key.trim()] = parseScalar(r.value, f.valueKind);
        setAt(out, f.path, rec);
        break;
      }
      case 'numberList': {
        const text = String(v).trim();
        setAt(out, f.path, text === '' ? [] : text.split(/[\s,;]+/).filter(Boolean).map(parseNumber));
        break;
      }
      case 'json': {
        const text = String(v).trim();
        if (text === '') break;
        try {
          setAt(out, f.path, JSON.parse(text) as unknown);
        } catch {
          setAt(out, f.path, text);
        }
        break;
      }
      default: {
        const text = String(v);
        if (text.trim() === '') break;
        setAt(out, f.path, parseScalar(text, f.kind));
      }
    }
  }
  return out;
}

/**
 * The server's field errors placed on the form's leaves: `config.weights.age` or `weights.age` on that field,
 * `ownerWeights.ana` on the record `ownerWeights`; what matches no field comes back under `''`.
 */
export function placeErrors(nodes: readonly FormNode[], errors: Record<string, string>): Record<string, string> {
  const paths = leaves(nodes).map((f) => f.path);
  const out: Record<string, string> = {};
  for (const [field, message] of Object.entries(errors)) {
    const p = field.replace(/^config\.?/, '');
    const target = paths.find((x) => x === p) ?? paths.filter((x) => p.startsWith(`${x}.`)).sort((a, b) => b.length - a.length)[0];
    const key = target ?? '';
    const text = target ? message : `${field}: ${message}`;
    out[key] = out[key] ? `${out[key]}; ${text}` : text;
  }
  return out;
}
