import { memo } from 'react';
import { Link, VIEWS } from '../lib/router.ts';
import { NODE_VIEWS, nodeFilterOf, nodeLink } from '../nodes/rows.ts';
import { useScheduler } from '../scheduler/hooks.ts';

/**
 * The views, with the queue and conflict counts where they live. A plain list of links: Tab and Enter work. The
 * links to the views of one node's resources keep the node filter.
 */
export const Nav = memo(function Nav({ path, search = '' }: { path: string; search?: string }) {
  const sched = useScheduler();
  const node = nodeFilterOf(search);
  const counts: Record<string, { n: number; label: string; alert: boolean } | undefined> = {
    '/scheduler': sched.ready ? { n: sched.queue.length, label: 'waiting', alert: sched.conflicts.some((c) => c.severity >= 4) } : undefined,
  };
  return (
    <nav className="views" aria-label="Views">
      <ul>
        {VIEWS.map((v) => {
          const c = counts[v.path];
          const current = path === v.path;
          return (
            <li key={v.path}>
              <Link to={NODE_VIEWS.has(v.path) ? nodeLink(v.path, node) : v.path} aria-current={current ? 'page' : undefined} className={current ? 'view-link current' : 'view-link'} data-testid={`nav-${v.label.toLowerCase()}`}>
                {v.label}
                {c && c.n > 0 ? (
                  <span className={c.alert ? 'count count-alert num' : 'count num'} aria-label={`${c.n} ${c.label}`}>
                    {c.n}
                  </span>
                ) : null}
              </Link>
            </li>
          );
        })}
      </ul>
    </nav>
  );
});
