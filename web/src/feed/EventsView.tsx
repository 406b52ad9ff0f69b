import { useId, useMemo, useState } from 'react';
import type { FeedEntry } from './feed.ts';
import { FeedList } from './FeedList.tsx';
import { useFeed } from './hooks.ts';

const FILTERS: { key: 'all' | FeedEntry['type']; label: string }[] = [
  { key: 'all', label: 'All' },
  { key: 'conflict', label: 'Conflicts' },
  { key: 'hint', label: 'Hints' },
  { key: 'scheduling_update', label: 'Scheduling' },
];

/** The live feed of hints, conflicts and scheduling changes since the page opened. */
export function EventsView() {
  const id = useId();
  const feed = useFeed();
  const [filter, setFilter] = useState<(typeof FILTERS)[number]['key']>('all');
  const entries = useMemo(
    () => (filter === 'all' ? feed.entries : feed.entries.filter((e) => e.type === filter || e.type === 'gap')),
    [feed.entries, filter],
  );
  return (
    <div className="view grid">
      <section className="panel panel-wide" aria-labelledby={id} data-testid="events">
        <header className="panel-head">
          <h2 id={id}>Events</h2>
          <span className="muted num" data-testid="feed-count">
            {feed.received} since the page opened{feed.gaps > 0 ? ` · ${feed.gaps} gap${feed.gaps === 1 ? '' : 's'}` : ''}
          </span>
          <div className="segmented" role="group" aria-label="Show">
            {FILTERS.map((f) => (
              <button key={f.key} type="button" aria-pressed={filter === f.key} onClick={() => setFilter(f.key)}>
                {f.label}
              </button>
            ))}
          </div>
        </header>
        <FeedList entries={entries} empty="No events yet: hints, conflicts and scheduling changes appear here as they happen." />
      </section>
    </div>
  );
}
