import { useId, useMemo, useState, type FormEvent } from 'react';
import type { StrategyState } from '../../../shared/strategy.ts';
import { errorMessage, fieldErrors } from '../lib/api.ts';
import { strategyLabel } from '../lib/format.ts';
import { useStrategyApi, type StrategyInfo } from './api.ts';
import { configOf, draftOf, formTree, placeErrors, type Draft, type FormNode, type JsonSchema, type LeafField, type RecordRow } from './schema-form.ts';

export interface ConfigFormProps {
  info: StrategyInfo;
  /** the config to start from: the current one for the strategy in charge, else its defaults */
  config: Record<string, unknown>;
  /** after the server took it */
  onSaved(state: StrategyState): void;
  onCancel(): void;
}

/**
 * A strategy's config, as a form generated from the JSON Schema the server gives for it. Saving switches to
 * that strategy with that config (PUT /api/strategy); the server's 400 is shown at the fields it names.
 */
export function ConfigForm({ info, config, onSaved, onCancel }: ConfigFormProps) {
  const id = useId();
  const api = useStrategyApi();
  const tree = useMemo(() => formTree(info.configSchema as JsonSchema), [info.configSchema]);
  const [draft, setDraft] = useState<Draft>(() => draftOf(tree, config));
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [busy, setBusy] = useState(false);

  const set = (path: string, v: Draft[string]) => setDraft((d) => ({ ...d, [path]: v }));

  const submit = (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setErrors({});
    api.put({ name: info.name, config: configOf(tree, draft) }).then(
      (state) => {
        setBusy(false);
        onSaved(state);
      },
      (err: unknown) => {
        setBusy(false);
        const byField = fieldErrors(err);
        setErrors(Object.keys(byField).length ? placeErrors(tree, byField) : { '': errorMessage(err) });
      },
    );
  };

  return (
    <form className="config-form" onSubmit={submit} noValidate aria-labelledby={id} data-testid="config-form" data-strategy={info.name}>
      <h3 id={id} className="sub-head">
        Config of {strategyLabel(info.name)}
      </h3>
      {tree.length === 0 ? <p className="muted">This strategy has nothing to configure.</p> : null}
      <Nodes nodes={tree} draft={draft} errors={errors} set={set} idBase={id} />
      {errors[''] ? (
        <p className="form-result bad" role="alert" data-testid="form-error">
          {errors['']}
        </p>
      ) : null}
      <div className="form-actions">
        <button type="submit" className="primary" disabled={busy} data-testid="save-config">
          {busy ? 'Saving…' : info.current ? 'Save config' : `Switch to ${strategyLabel(info.name)} with this config`}
        </button>
        <button type="button" onClick={() => setDraft(draftOf(tree, info.defaults))} disabled={busy}>
          Defaults
        </button>
        <button type="button" onClick={onCancel} disabled={busy}>
          Close
        </button>
      </div>
    </form>
  );
}

interface NodesProps {
  nodes: readonly FormNode[];
  draft: Draft;
  errors: Record<string, string>;
  set(path: string, v: Draft[string]): void;
  idBase: string;
}

function Nodes({ nodes, ...rest }: NodesProps) {
  return (
    <div className="cfg-fields">
      {nodes.map((n) =>
        n.kind === 'group' ? (
          <fieldset key={n.path} className="cfg-group">
            <legend>{n.label}</legend>
            {n.description ? <p className="muted field-hint">{n.description}</p> : null}
            <Nodes nodes={n.children} {...rest} />
          </fieldset>
        ) : (
          <Leaf key={n.path} field={n} {...rest} />
        ),
      )}
    </div>
  );
}

function defaultText(f: LeafField): string {
  if (f.defaultValue === undefined) return '';
  const v = f.defaultValue;
  const s = typeof v === 'object' ? JSON.stringify(v) : String(v);
  return s.length > 40 ? '' : ` · default ${s}`;
}

function Leaf({ field: f, draft, errors, set, idBase }: { field: LeafField } & Omit<NodesProps, 'nodes'>) {
  const fid = `${idBase}-${f.path}`;
  const err = errors[f.path];
  const hint = `${f.constraint}${defaultText(f)}`;
  const described = [`${fid}-hint`, err ? `${fid}-err` : ''].filter(Boolean).join(' ');
  const common = { id: fid, 'aria-invalid': err ? true : undefined, 'aria-describedby': described, 'data-path': f.path };
  const v = draft[f.path];
  let control;
  switch (f.kind) {
    case 'boolean':
      control = <input type="checkbox" {...common} checked={v === true} onChange={(e) => set(f.path, e.target.checked)} />;
      break;
    case 'enum':
      control = (
        <select {...common} value={String(v ?? '')} onChange={(e) => set(f.path, e.target.value)}>
          {(f.options ?? []).map((o) => (
            <option key={o} value={o}>
              {o}
            </option>
          ))}
        </select>
      );
      break;
    case 'record':
      return <RecordField field={f} rows={Array.isArray(v) ? v : []} set={set} fid={fid} err={err} hint={hint} />;
    case 'json':
      control = <textarea {...common} rows={2} value={String(v ?? '')} onChange={(e) => set(f.path, e.target.value)} spellCheck={false} />;
      break;
    default:
      control = (
        <input
          {...common}
          type="text"
          inputMode={f.kind === 'integer' ? 'numeric' : f.kind === 'number' || f.kind === 'numberList' ? 'decimal' : undefined}
          value={String(v ?? '')}
          onChange={(e) => set(f.path, e.target.value)}
          autoComplete="off"
          spellCheck={false}
        />
      );
  }
  return (
    <div className={`field cfg-field${f.kind === 'boolean' ? ' check' : ''}${err ? ' invalid' : ''}`} data-testid="config-field" data-path={f.path}>
      {f.kind === 'boolean' ? (
        <label htmlFor={fid}>
          {control} {f.label}
        </label>
      ) : (
        <>
          <label htmlFor={fid}>{f.label}</label>
          {control}
        </>
      )}
      <FieldNotes fid={fid} hint={hint} err={err} />
    </div>
  );
}

function RecordField({ field: f, rows, set, fid, err, hint }: { field: LeafField; rows: RecordRow[]; set: NodesProps['set']; fid: string; err: string | undefined; hint: string }) {
  const update = (i: number, part: Partial<RecordRow>) => set(f.path, rows.map((r, k) => (k === i ? { ...r, ...part } : r)));
  return (
    <fieldset className={`field cfg-field cfg-record${err ? ' invalid' : ''}`} data-testid="config-field" data-path={f.path} aria-describedby={`${fid}-hint${err ? ` ${fid}-err` : ''}`}>
      <legend>{f.label}</legend>
      {rows.length === 0 ? <p className="muted">none</p> : null}
      {rows.map((r, i) => (
        <div className="record-row" key={i}>
          <input aria-label={`${f.label}: name ${i + 1}`} value={r.key} onChange={(e) => update(i, { key: e.target.value })} placeholder="name" spellCheck={false} />
          <input aria-label={`${f.label}: value ${i + 1}`} value={r.value} onChange={(e) => update(i, { value: e.target.value })} inputMode="decimal" placeholder="value" />
          <button type="button" aria-label={`Remove ${r.key || `row ${i + 1}`}`} onClick={() => set(f.path, rows.filter((_, k) => k !== i))}>
            ×
          </button>
        </div>
      ))}
      <button type="button" className="link-button" onClick={() => set(f.path, [...rows, { key: '', value: '' }])}>
        add
      </button>
      <FieldNotes fid={fid} hint={hint} err={err} />
    </fieldset>
  );
}

/** A field's hint and, when the server named it, its error (ids the field's aria-describedby points at). */
function FieldNotes({ fid, hint, err }: { fid: string; hint: string; err: string | undefined }) {
  return (
    <>
      <p className="muted field-hint" id={`${fid}-hint`}>
        {hint}
      </p>
      {err ? (
        <p className="field-error" id={`${fid}-err`} data-testid="field-error">
          {err}
        </p>
      ) : null}
    </>
  );
}
