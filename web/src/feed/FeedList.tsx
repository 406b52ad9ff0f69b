import { memo } from 'react';
import { formatClock } from '../lib/format.ts';
import { Link } from '../lib/router.ts';
import type { FeedEntry } from './feed.ts';
import { subjectLabel, subjectPath } from './subject.ts';

const TYPE_LABEL: Record<FeedEntry['type'], string> = { hint: 'hint', conflict: 'conflict', scheduling_update: 'scheduler', gap: 'gap' };

/** Feed entries, newest first; each with its time, kind, what happened and a link to its subject. */
export const FeedList = memo(function FeedList({ entries, empty }: { entries: readonly FeedEntry[]; empty: string }) {
  if (entries.length === 0) return <p className="muted feed-empty">{empty}</p>;
  return (
    <ol className="feed" aria-label="Events, newest first">
      {entries.map((e) => (
        <li
          key={e.key}
          className={`feed-entry type-${e.type} sev-${Math.min(5, e.severity)}`}
          data-testid="feed-entry"
          data-event-id={e.id ?? undefined}
          data-kind={e.kind}
        >
          <time className="feed-time num muted" dateTime={new Date(e.ts).toISOString()}>
            {formatClock(e.ts)}
          </time>
          <span className="feed-type">{TYPE_LABEL[e.type]}</span>
          <span className="feed-text">
            <strong className="feed-title">{e.title}</strong>
            {e.detail ? <span className="feed-detail muted"> {e.detail}</span> : null}
          </span>
          {e.subject ? (
            <Link className="feed-link" to={subjectPath(e.subject)}>
              {subjectLabel(e.subject)}
            </Link>
          ) : (
            <span />
          )}
        </li>
      ))}
    </ol>
  );
});
