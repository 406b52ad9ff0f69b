import { useEffect, useId, useState, type FormEvent, type ReactNode } from 'react';
import type { Session } from '../../../shared/api.ts';
import type { RequestInputBody } from '../../../shared/scheduler.ts';
import { anchor } from '../feed/subject.ts';
import { ApiError, errorMessage, fieldErrors } from '../lib/api.ts';
import { formatClock, formatResources } from '../lib/format.ts';
import { Link } from '../lib/router.ts';
import type { SubmitResult } from './api.ts';
import { useSchedulerApi } from './hooks.ts';

/** The form's inputs and the API field each one fills (the 400's `details[].field` names them so). */
const FIELDS = {
  owner: 'owner',
  group: 'group',
  priority: 'priority',
  cpu: 'resources.cpu',
  memoryMiB: 'resources.memoryMiB',
  gpus: 'resources.gpus',
  gpuMemMiB: 'resources.gpuMemMiB',
  gpuModels: 'gpuModels',
  leaseMin: 'leaseMs',
  durationMin: 'expectedDurationMs',
  preemptible: 'preemptible',
} as const;
type Input = keyof typeof FIELDS;
type Values = Record<Exclude<Input, 'preemptible'>, string> & { preemptible: boolean };

const OWNER_KEY = 'arbiter.owner';
const EMPTY: Values = { owner: '', group: '', priority: '', cpu: '', memoryMiB: '', gpus: '', gpuMemMiB: '', gpuModels: '', leaseMin: '', durationMin: '', preemptible: false };

function rememberedOwner(): string {
  try {
    return localStorage.getItem(OWNER_KEY) ?? '';
  } catch {
    return '';
  }
}

/** A number as typed; what is not a number goes to the API as typed, so its answer names the field. */
function num(text: string, scale = 1): number | string | undefined {
  const t = text.trim();
  if (t === '') return undefined;
  return /^[-+]?\d+(\.\d+)?$/.test(t) ? Math.round(Number(t) * scale) : t;
}

/** The body of POST /api/requests from the form: empty inputs are left out (the server's defaults apply). */
export function requestBody(v: Values): RequestInputBody {
  const body: Record<string, unknown> = { owner: v.owner.trim() };
  if (v.group.trim()) body.group = v.group.trim();
  const resources: Record<string, unknown> = {};
  for (const k of ['cpu', 'memoryMiB', 'gpus', 'gpuMemMiB'] as const) {
    const x = num(v[k]);
    if (x !== undefined) resources[k] = x;
  }
  body.resources = resources;
  const models = v.gpuModels.split(',').map((m) => m.trim()).filter(Boolean);
  if (models.length) body.gpuModels = models;
  const priority = num(v.priority);
  if (priority !== undefined) body.priority = priority;
  const lease = num(v.leaseMin, 60_000);
  if (lease !== undefined) body.leaseMs = lease;
  const duration = num(v.durationMin, 60_000);
  if (duration !== undefined) body.expectedDurationMs = duration;
  if (v.preemptible) body.preemptible = true;
  // deliberately not checked here: the API validates and names each bad field
  return body as unknown as RequestInputBody;
}

type Outcome = { kind: 'ok'; result: SubmitResult } | { kind: 'error'; message: string } | null;

/** Ask for resources. Errors come from the API (400 names each field; 422: more than the node has) and show inline. */
export function RequestForm() {
  const id = useId();
  const api = useSchedulerApi();
  const [values, setValues] = useState<Values>(() => ({ ...EMPTY, owner: rememberedOwner() }));
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [outcome, setOutcome] = useState<Outcome>(null);
  const [busy, setBusy] = useState(false);
  // who the token is: a viewer may not submit; a token bound to an owner submits only as that owner
  const [session, setSession] = useState<Session | null>(null);
  useEffect(() => {
    let alive = true;
    api.session().then((s) => {
      if (!alive) return;
      setSession(s);
      if (s.owner !== undefined) setValues((v) => ({ ...v, owner: s.owner! }));
    }, () => {
      // an older server: no roles, the form as it was
    });
    return () => {
      alive = false;
    };
  }, [api]);
  const viewer = session?.role === 'viewer';

  const set = <K extends keyof Values>(k: K, v: Values[K]) => setValues((s) => ({ ...s, [k]: v }));

  const submit = (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setOutcome(null);
    api.submit(requestBody(values)).then(
      (result) => {
        setBusy(false);
        setErrors({});
        setOutcome({ kind: 'ok', result });
        try {
          localStorage.setItem(OWNER_KEY, values.owner.trim());
        } catch {
          // private mode: not remembered
        }
      },
      (err: unknown) => {
        setBusy(false);
        // a problem of one GPU model name (`gpuModels.1`) shows at the models' input
        const byField = Object.fromEntries(Object.entries(fieldErrors(err)).map(([f, m]) => [f.replace(/^gpuModels\.\d+$/, 'gpuModels'), m]));
        setErrors(byField);
        const known = new Set<string>(Object.values(FIELDS));
        const unplaced = Object.entries(byField).filter(([f]) => !known.has(f) && f !== 'resources');
        const status = err instanceof ApiError ? err.status : 0;
        const message =
          Object.keys(byField).length > 0
            ? unplaced.length > 0
              ? unplaced.map(([f, m]) => `${f}: ${m}`).join('; ')
              : 'Please correct the marked fields.'
            : status === 422
              ? `Never fits this node: ${errorMessage(err)}`
              : errorMessage(err);
        setOutcome({ kind: 'error', message });
      },
    );
  };

  const field = (k: Exclude<Input, 'preemptible'>, label: string, opts: { hint?: string; numeric?: boolean; required?: boolean; placeholder?: string; readOnly?: boolean } = {}) => {
    const err = errors[FIELDS[k]];
    const fid = `${id}-${k}`;
    return (
      <div className={err ? 'field invalid' : 'field'}>
        <label htmlFor={fid}>
          {label}
          {opts.hint ? <span className="muted field-hint"> {opts.hint}</span> : null}
        </label>
        <input
          id={fid}
          name={k}
          value={values[k]}
          onChange={(e) => set(k, e.target.value)}
          inputMode={opts.numeric ? 'numeric' : undefined}
          autoComplete="off"
          spellCheck={false}
          required={opts.required}
          placeholder={opts.placeholder}
          readOnly={opts.readOnly}
          disabled={viewer}
          aria-invalid={err ? true : undefined}
          aria-describedby={err ? `${fid}-err` : undefined}
          data-field={FIELDS[k]}
        />
        <FieldError id={`${fid}-err`} text={err} />
      </div>
    );
  };

  const resourcesError = errors.resources;
  return (
    <section className="panel request-form" aria-labelledby={id} data-testid="request-form">
      <header className="panel-head">
        <h2 id={id}>Ask for resources</h2>
      </header>
      {viewer ? (
        <p className="muted" data-testid="form-read-only">
          This token may read and watch, not ask for resources (role: viewer). Open the dashboard with an operator&apos;s token to submit.
        </p>
      ) : null}
      <form onSubmit={submit} noValidate>
        <div className="form-grid">
          {field('owner', 'Owner', session?.owner !== undefined
            ? { required: true, readOnly: true, hint: 'your token acts for this owner' }
            : { required: true, placeholder: 'your name' })}
          {field('group', 'Group', { hint: 'optional' })}
          {field('priority', 'Priority', { numeric: true, hint: 'higher wins', placeholder: '0' })}
        </div>
        <fieldset className={resourcesError ? 'invalid' : undefined} aria-describedby={resourcesError ? `${id}-res-err` : undefined}>
          <legend>Resources</legend>
          <div className="form-grid">
            {field('gpus', 'GPUs', { numeric: true, hint: 'whole' })}
            {field('gpuMemMiB', 'GPU memory', { numeric: true, hint: 'MiB, a share of one GPU' })}
            {field('cpu', 'CPU', { numeric: true, hint: 'millicores' })}
            {field('memoryMiB', 'Memory', { numeric: true, hint: 'MiB' })}
            {field('gpuModels', 'GPU models', { hint: 'optional, comma-separated', placeholder: 'A100, H100' })}
          </div>
          <FieldError id={`${id}-res-err`} text={resourcesError} />
        </fieldset>
        <div className="form-grid">
          {field('leaseMin', 'Lease', { numeric: true, hint: 'minutes; default the server’s' })}
          {field('durationMin', 'Expected duration', { numeric: true, hint: 'minutes' })}
          <div className={errors.preemptible ? 'field check invalid' : 'field check'}>
            <label>
              <input type="checkbox" checked={values.preemptible} disabled={viewer} onChange={(e) => set('preemptible', e.target.checked)} name="preemptible" /> preemptible
            </label>
            <FieldError id={`${id}-pre-err`} text={errors.preemptible} />
          </div>
        </div>
        <div className="form-actions">
          <button type="submit" className="primary" disabled={busy || viewer} data-testid="submit-request">
            {busy ? 'Submitting…' : 'Submit request'}
          </button>
          <Result outcome={outcome} />
        </div>
      </form>
    </section>
  );
}

function FieldError({ id, text }: { id: string; text: string | undefined }): ReactNode {
  return text ? (
    <p className="field-error" id={id} data-testid="field-error">
      {text}
    </p>
  ) : null;
}

function Result({ outcome }: { outcome: Outcome }) {
  if (!outcome) return <p className="form-result" aria-live="polite" />;
  if (outcome.kind === 'error') {
    return (
      <p className="form-result bad" role="alert" data-testid="form-error">
        {outcome.message}
      </p>
    );
  }
  const { request, allocation, conflict } = outcome.result;
  return (
    <p className="form-result ok" aria-live="polite" data-testid="form-result">
      {allocation ? (
        <>
          Granted: {formatResources(allocation.resources)}
          {allocation.gpuIndices.length ? ` on GPU ${allocation.gpuIndices.join(', ')}` : ''}, lease until {formatClock(allocation.leaseExpiresAt)}.{' '}
          <Link to={`/scheduler#${anchor.allocation(allocation.id)}`}>show</Link>
        </>
      ) : (
        <>
          Queued{conflict ? `: ${conflict.message}` : ''}. <Link to={`/scheduler#${anchor.request(request.id)}`}>show in the queue</Link>
        </>
      )}
    </p>
  );
}
