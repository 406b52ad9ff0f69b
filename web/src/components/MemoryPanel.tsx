import { memo } from 'react';
import type { Memory } from '../../../shared/resources.ts';
import { formatMiB, formatPercent } from '../lib/format.ts';
import { Meter } from './Meter.tsx';
import { Panel, Waiting } from './Panel.tsx';

export const MemoryPanel = memo(function MemoryPanel({ memory }: { memory: Memory | null }) {
  return (
    <Panel title="Memory" health={memory?.health ?? null} testId="memory">
      <div className="headline">
        <span className="figure" data-testid="memory-used">
          {memory ? formatPercent(memory.usedPercent) : '– %'}
        </span>
        <span className="muted">used</span>
      </div>
      <Meter value={memory?.usedPercent ?? 0} health={memory?.health} label="Memory used" />
      {memory ? (
        <>
          <dl className="facts">
            <div>
              <dt>used</dt>
              <dd>
                {formatMiB(memory.usedMiB)} / {formatMiB(memory.totalMiB)}
              </dd>
            </div>
            <div>
              <dt>available</dt>
              <dd>{formatMiB(memory.availableMiB)}</dd>
            </div>
          </dl>
          <div className="subrow">
            <span className="sublabel">swap</span>
            {memory.swapTotalMiB > 0 ? (
              <>
                <Meter value={memory.swapUsedPercent} label="Swap used" />
                <span className="num">
                  {formatMiB(memory.swapUsedMiB)} / {formatMiB(memory.swapTotalMiB)}
                </span>
              </>
            ) : (
              <span className="muted">none</span>
            )}
          </div>
        </>
      ) : (
        <Waiting />
      )}
    </Panel>
  );
});
