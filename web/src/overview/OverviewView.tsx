import { useId, useMemo } from 'react';
import type { ResourceStatus } from '../../../shared/resources.ts';
import { CpuPanel } from '../components/CpuPanel.tsx';
import { DisksPanel } from '../components/DisksPanel.tsx';
import { MemoryPanel } from '../components/MemoryPanel.tsx';
import { NetworkPanel } from '../components/NetworkPanel.tsx';
import { FeedList } from '../feed/FeedList.tsx';
import { useFeed } from '../feed/hooks.ts';
import { Link } from '../lib/router.ts';
import { useScheduler } from '../scheduler/hooks.ts';
import { Tiles } from './Tiles.tsx';

const LATEST = 6;

/** Tiles for everything, the host's CPU, memory, disks and network in detail, and the latest events. */
export function OverviewView({ status }: { status: ResourceStatus | null }) {
  const host = status?.host ?? null;
  const sched = useScheduler();
  const conflicts = sched.ready ? { open: sched.conflicts.length, maxSeverity: sched.conflicts.reduce((m, c) => Math.max(m, c.severity), 0) } : null;
  return (
    <div className="view grid">
      <div className="panel-wide">
        <Tiles status={status} queued={sched.ready ? sched.queue.length : null} conflicts={conflicts} />
      </div>
      <CpuPanel cpu={host?.cpu ?? null} />
      <MemoryPanel memory={host?.memory ?? null} />
      <DisksPanel disks={host?.disks ?? null} />
      <LatestEvents />
      <NetworkPanel network={host?.network ?? null} />
    </div>
  );
}

function LatestEvents() {
  const id = useId();
  const { entries } = useFeed();
  const latest = useMemo(() => entries.slice(0, LATEST), [entries]);
  return (
    <section className="panel panel-wide latest" aria-labelledby={id} data-testid="latest-events">
      <header className="panel-head">
        <h2 id={id}>Latest events</h2>
        <Link to="/events" className="panel-more">
          all events
        </Link>
      </header>
      <FeedList entries={latest} empty="Nothing has happened since the page opened." />
    </section>
  );
}
