import { Link } from '../lib/router.ts';
import { useScheduler } from '../scheduler/hooks.ts';

/** The strategy in charge, in the header; a link to the strategy panel. */
export function StrategyBadge() {
  const { strategy } = useScheduler();
  return (
    <Link to="/strategy" className="strategy-badge" title="scheduling strategy (switch it in the strategy panel)">
      <span className="sublabel">strategy</span> <span data-testid="current-strategy">{strategy ? strategy.name : '…'}</span>
    </Link>
  );
}
