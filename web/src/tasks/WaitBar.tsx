import { formatSeconds } from '../lib/format.ts';
import type { Wait } from './store.ts';

const pct = (x: number, scale: number) => Math.min(100, Math.max(0, (x / scale) * 100));

/**
 * An instance's expected wait as a bar, its error as a whisker from expect − error to expect + error, on a scale
 * shared by the instances of one model (`scaleSec`), with the figures beside it (never the picture alone).
 */
export function WaitBar({ wait, scaleSec }: { wait: Wait | null; scaleSec: number }) {
  if (!wait) {
    return (
      <span className="muted" data-testid="wait-text">
        not reported yet
      </span>
    );
  }
  const { expectSec: expect, errorSec: error } = wait;
  const scale = scaleSec > 0 ? scaleSec : 1;
  const lo = pct(Math.max(0, expect - error), scale);
  const hi = pct(expect + error, scale);
  const text = `${formatSeconds(expect)} ± ${formatSeconds(error)}`;
  return (
    <div className="wait" data-testid="wait">
      <div className="wait-bar" role="img" aria-label={`expected wait ${text}`} title={`expected wait ${text}`} data-expect={expect} data-error={error}>
        <div className="wait-fill" style={{ width: `${pct(expect, scale)}%` }} data-testid="wait-fill" />
        {error > 0 ? (
          <div className="wait-whisker" style={{ left: `${lo}%`, width: `${hi - lo}%` }} data-testid="wait-whisker" />
        ) : null}
      </div>
      <span className="num wait-figure" data-testid="wait-text">
        {formatSeconds(expect)} <span className="muted">± {formatSeconds(error)}</span>
      </span>
    </div>
  );
}
