import { Link } from '../lib/router.ts';
import { useFeed, useFeedStore } from './hooks.ts';
import { subjectLabel, subjectPath } from './subject.ts';

/**
 * New conflicts and critical hints, bottom right, over the page (they never push the layout). Each says what
 * happened, links to its subject and can be dismissed (button or Escape); critical ones stay until dismissed.
 */
export function Toasts() {
  const { toasts } = useFeed();
  const store = useFeedStore();
  return (
    <section className="toasts" aria-label="Notifications" aria-live="polite" data-testid="toasts">
      {toasts.map(({ entry: e, expiresAt }) => (
        <div
          key={e.key}
          className={`toast sev-${Math.min(5, e.severity)}${expiresAt === null ? ' sticky' : ''}`}
          role={e.severity >= 4 ? 'alert' : 'status'}
          data-testid="toast"
          data-kind={e.kind}
          onKeyDown={(ev) => {
            if (ev.key === 'Escape') store.dismiss(e.key);
          }}
        >
          <div className="toast-body">
            <strong className="toast-title">{e.title}</strong>
            {e.detail ? (
              <p className="toast-detail" title={e.detail}>
                {e.detail}
              </p>
            ) : null}
            {e.subject ? (
              <Link to={subjectPath(e.subject)} className="toast-link" onClick={() => store.dismiss(e.key)}>
                show {subjectLabel(e.subject)}
              </Link>
            ) : null}
          </div>
          <button type="button" className="toast-close" aria-label={`Dismiss: ${e.title}`} onClick={() => store.dismiss(e.key)}>
            ×
          </button>
        </div>
      ))}
    </section>
  );
}
