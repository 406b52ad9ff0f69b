import { formatDuration } from '../lib/format.ts';
import { useSharedNow } from '../live/hooks.ts';

/** Time left until `until` (epoch ms), ticking each second by itself (its parent does not re-render; one timer for all). */
export function TimeLeft({ until, className }: { until: number; className?: string }) {
  const now = useSharedNow(1000);
  const left = until - now;
  return (
    <span className={className ? `num ${className}` : 'num'} data-testid="time-left">
      {left <= 0 ? 'due' : formatDuration(left)}
    </span>
  );
}

/** Time since `since` (epoch ms), ticking each second. */
export function TimeSince({ since, className, testId }: { since: number; className?: string; testId?: string }) {
  const now = useSharedNow(1000);
  return (
    <span className={className ? `num ${className}` : 'num'} data-testid={testId}>
      {formatDuration(now - since)}
    </span>
  );
}
