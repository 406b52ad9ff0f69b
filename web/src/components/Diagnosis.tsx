import { useState } from 'react';
import type { DoctorCheck, DoctorResponse } from '../../../shared/api.ts';
import { errorMessage, getJson } from '../lib/api.ts';

export interface DiagnosisProps {
  /** the part whose checks to show (GET /api/doctor?source=) */
  source: 'gpu' | 'docker';
  /** GET /api/doctor (tests give their own) */
  load?: (source: 'gpu' | 'docker') => Promise<DoctorResponse>;
}

const fetchDoctor = (source: 'gpu' | 'docker') => getJson<DoctorResponse>(`/api/doctor?source=${source}`);
const MARK: Record<DoctorCheck['status'], string> = { ok: '✓', warn: '!', fail: '✗', off: '–' };

/**
 * Behind a source that is `unavailable` or in `error`: what `arbiter doctor` finds for it on this server, each
 * check with its fix. Asked when opened (nvidia-smi and the engine are asked by the server).
 */
export function Diagnosis({ source, load = fetchDoctor }: DiagnosisProps) {
  const [state, setState] = useState<{ checks?: DoctorCheck[]; error?: string } | null>(null);
  const onToggle = (open: boolean) => {
    if (!open || state?.checks) return;
    setState({});
    load(source).then((r) => setState({ checks: r.checks }), (err: unknown) => setState({ error: errorMessage(err) }));
  };
  return (
    <details className="diagnosis" data-testid="diagnosis" onToggle={(e) => onToggle((e.currentTarget as HTMLDetailsElement).open)}>
      <summary>What to check</summary>
      {state === null ? null : state.error ? (
        <p className="muted">{state.error}</p>
      ) : !state.checks ? (
        <p className="waiting">checking…</p>
      ) : (
        <ul>
          {state.checks.map((c) => (
            <li key={c.id} className={`diag diag-${c.status}`} data-testid="diagnosis-check">
              <span className="diag-mark" aria-label={c.status}>{MARK[c.status]}</span> {c.message}
              {c.fix ? <div className="diag-fix">→ {c.fix}</div> : null}
            </li>
          ))}
        </ul>
      )}
    </details>
  );
}
