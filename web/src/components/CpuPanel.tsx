import { memo } from 'react';
import type { Cpu } from '../../../shared/resources.ts';
import { formatMHz, formatPercent } from '../lib/format.ts';
import { CoreBars } from './CoreBars.tsx';
import { Meter } from './Meter.tsx';
import { Panel, Waiting } from './Panel.tsx';

export const CpuPanel = memo(function CpuPanel({ cpu }: { cpu: Cpu | null }) {
  return (
    <Panel title="CPU" health={cpu?.health ?? null} testId="cpu">
      <div className="headline">
        <span className="figure" data-testid="cpu-total">
          {cpu ? formatPercent(cpu.loadPercent) : '– %'}
        </span>
        <span className="muted">total</span>
      </div>
      <Meter value={cpu?.loadPercent ?? 0} health={cpu?.health} label="CPU total" />
      {cpu ? (
        <>
          <dl className="facts">
            <div>
              <dt>load avg</dt>
              <dd>{cpu.loadAvg.map((x) => x.toFixed(2)).join(' · ')}</dd>
            </div>
            <div>
              <dt>frequency</dt>
              <dd>{formatMHz(cpu.speedMHz)}</dd>
            </div>
            <div>
              <dt>cores</dt>
              <dd>{cpu.cores}</dd>
            </div>
          </dl>
          <p className="model muted" title={cpu.model}>
            {cpu.model}
          </p>
          <CoreBars perCore={cpu.perCore} />
        </>
      ) : (
        <Waiting />
      )}
    </Panel>
  );
});
