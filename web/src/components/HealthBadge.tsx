import type { Health } from '../../../shared/resources.ts';

const LABEL: Record<Health, string> = { healthy: 'healthy', warning: 'warning', critical: 'critical', error: 'error' };

/** Health as colour and word (never colour alone). */
export function HealthBadge({ health }: { health: Health }) {
  return (
    <span className={`badge health-${health}`} data-health={health}>
      <span className="badge-dot" aria-hidden="true" />
      {LABEL[health]}
    </span>
  );
}
