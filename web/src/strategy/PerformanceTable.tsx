import type { StrategyPerformance } from '../../../shared/strategy.ts';
import { MISSING, formatDuration, strategyLabel } from '../lib/format.ts';

const pct = (x: number | null | undefined) => (x === null || x === undefined ? MISSING : `${(x * 100).toFixed(1)} %`);
const ms = (x: number | null | undefined) => (x === null || x === undefined ? MISSING : x < 1000 ? `${Math.round(x)} ms` : formatDuration(x));
const fixed3 = (x: number | null | undefined) => (x === null || x === undefined ? MISSING : x.toFixed(3));

interface Column {
  label: string;
  title?: string;
  value(r: StrategyPerformance): string;
  replayOnly?: boolean;
}

const COLUMNS: Column[] = [
  { label: 'active', title: 'time it was in charge (live), or the replayed span', value: (r) => ms(r.activeMs) },
  { label: 'requests', value: (r) => String(r.requests) },
  { label: 'granted', value: (r) => String(r.granted) },
  { label: 'cancelled', value: (r) => String(r.cancelled) },
  { label: 'failed', title: 'granted, then ended by expiry or preemption', value: (r) => String(r.failed) },
  { label: 'success', title: 'granted ÷ (granted + cancelled + starved)', value: (r) => pct(r.successRate) },
  { label: 'wait mean', value: (r) => ms(r.waitMs.mean) },
  { label: 'wait p50', value: (r) => ms(r.waitMs.p50) },
  { label: 'wait p95', value: (r) => ms(r.waitMs.p95) },
  { label: 'GPU util', title: 'allocated GPU-time ÷ GPU capacity-time', value: (r) => pct(r.utilisation) },
  { label: 'Jain', title: "Jain's fairness index over owners (1 = perfectly fair)", value: (r) => fixed3(r.jain) },
  { label: 'preempted', value: (r) => String(r.preemptions) },
  { label: 'suspended', value: (r) => String(r.suspensions) },
  { label: 'starved', value: (r) => String(r.starved) },
  { label: 'JCT p50', title: 'job completion time, submit → end', value: (r) => ms(r.jctMs?.p50), replayOnly: true },
  { label: 'JCT p95', value: (r) => ms(r.jctMs?.p95), replayOnly: true },
  { label: 'makespan', value: (r) => ms(r.makespanMs), replayOnly: true },
  { label: 'fragmentation', value: (r) => pct(r.fragmentation), replayOnly: true },
  { label: 'replay took', value: (r) => ms(r.wallMs), replayOnly: true },
];

/** Figures per strategy: live (while each was in charge) or from a replay (compare). */
export function PerformanceTable({ rows, current, replay, caption, testId }: { rows: readonly StrategyPerformance[]; current: string | null; replay?: boolean; caption: string; testId: string }) {
  const cols = COLUMNS.filter((c) => replay || !c.replayOnly);
  return (
    <div className="table-scroll">
      <table className="data-table perf-table" data-testid={testId}>
        <caption className="visually-hidden">{caption}</caption>
        <thead>
          <tr>
            <th scope="col">strategy</th>
            {cols.map((c) => (
              <th key={c.label} scope="col" className="num" title={c.title}>
                {c.label}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr key={r.strategy} className={r.strategy === current ? 'current' : undefined} data-strategy={r.strategy} data-testid="perf-row">
              <th scope="row">
                {strategyLabel(r.strategy)}
                {r.strategy === current ? <span className="tag">current</span> : null}
              </th>
              {cols.map((c) => (
                <td key={c.label} className="num">
                  {c.value(r)}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
