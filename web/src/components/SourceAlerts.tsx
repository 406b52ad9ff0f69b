import type { SourceStatus } from '../../../shared/resources.ts';
import { formatClock } from '../lib/format.ts';

export interface SourceAlertsProps {
  sources: Record<string, SourceStatus> | undefined;
  /** sources whose errors another part of the page shows */
  except?: readonly string[];
}

/** One line per monitor source in error (a source that is `unavailable`, e.g. no GPU, is normal and not shown). */
export function SourceAlerts({ sources, except = [] }: SourceAlertsProps) {
  const failing = Object.entries(sources ?? {}).filter(([name, s]) => s.status === 'error' && !except.includes(name));
  if (failing.length === 0) return null;
  return (
    <ul className="alerts panel-wide" aria-label="Monitor sources in error">
      {failing.map(([name, s]) => (
        <li key={name} className="notice notice-bad" data-testid="source-error">
          <strong>{name}</strong> source error{s.message ? `: ${s.message}` : ''}
          {s.nextRetryAt ? <span className="muted"> · retry at {formatClock(s.nextRetryAt)}</span> : null}
          {s.lastSampleAt ? <span className="muted"> · last sample {formatClock(s.lastSampleAt)}</span> : null}
        </li>
      ))}
    </ul>
  );
}
