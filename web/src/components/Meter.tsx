import type { Health } from '../../../shared/resources.ts';
import { clampPercent, formatPercent } from '../lib/format.ts';

export interface MeterProps {
  /** percent 0–100; null: not reported (an empty track) */
  value: number | null;
  label: string;
  health?: Health | null;
  vertical?: boolean;
  testId?: string;
  title?: string;
}

/** A percentage bar. The fill is a transform (no layout work per update). */
export function Meter({ value, label, health, vertical, testId, title }: MeterProps) {
  const v = value === null ? 0 : clampPercent(value);
  const cls = ['meter', vertical ? 'meter-v' : 'meter-h', health ? `health-${health}` : 'health-none'].join(' ');
  return (
    <div
      className={cls}
      role="meter"
      aria-label={label}
      aria-valuemin={0}
      aria-valuemax={100}
      aria-valuenow={Math.round(v * 10) / 10}
      aria-valuetext={value === null ? 'not reported' : formatPercent(value)}
      data-testid={testId}
      title={title}
    >
      <div className="meter-fill" style={{ transform: vertical ? `scaleY(${v / 100})` : `scaleX(${v / 100})` }} />
    </div>
  );
}
