import { memo } from 'react';
import { clampPercent, formatPercent } from '../lib/format.ts';

/** One thin vertical bar per logical core; wraps onto more rows on narrow screens. */
export const CoreBars = memo(function CoreBars({ perCore }: { perCore: readonly number[] }) {
  const dense = perCore.length > 32;
  return (
    <div className={dense ? 'cores cores-dense' : 'cores'} role="group" aria-label="Load per core">
      {perCore.map((load, i) => (
        <div
          key={i}
          className="core"
          data-testid="cpu-core"
          role="meter"
          aria-label={`core ${i}`}
          aria-valuemin={0}
          aria-valuemax={100}
          aria-valuenow={Math.round(clampPercent(load))}
          aria-valuetext={formatPercent(load)}
          title={`core ${i}: ${formatPercent(load)}`}
        >
          <div className="core-track">
            <div className="core-fill" style={{ transform: `scaleY(${clampPercent(load) / 100})` }} />
          </div>
          {dense ? null : <span className="core-label">{i}</span>}
        </div>
      ))}
    </div>
  );
});
