import { useId, useMemo } from 'react';
import type { ResourceStatus } from '../../../shared/resources.ts';
import { CpuPanel } from '../components/CpuPanel.tsx';
import { DisksPanel } from '../components/DisksPanel.tsx';
import { MemoryPanel } from '../components/MemoryPanel.tsx';
import { NetworkPanel } from '../components/NetworkPanel.tsx';
import { FeedList } from '../feed/FeedList.tsx';
import { useFeed } from '../feed/hooks.ts';
import { Link } from '../lib/router.ts';
import { NodeList } from '../nodes/NodeList.tsx';
import { NetworkRates } from '../nodes/NodeViews.tsx';
import { useNodeFilter, useNodeList, useNodeRows } from '../nodes/hooks.ts';
import { filterRows } from '../nodes/rows.ts';
import { useScheduler } from '../scheduler/hooks.ts';
import { Tiles } from './Tiles.tsx';

const LATEST = 6;

/**
 * Tiles for everything, the host's CPU, memory, disks and network in detail, and the latest events. With several
 * nodes: the node list first, GPU tiles of every node (or the filtered one) labelled with their node, and the host
 * panels of the filtered node (of the home node when none is).
 */
export function OverviewView({ status }: { status: ResourceStatus | null }) {
  const sched = useScheduler();
  const rows = useNodeRows();
  const { error } = useNodeList();
  const [filter, setFilter] = useNodeFilter();
  const multi = rows.length > 1;
  const shown = multi ? filterRows(rows, filter) : rows;
  const focus = multi && filter !== null ? (shown[0] ?? null) : null;
  const shownStatus = multi && filter !== null ? (focus?.status ?? null) : status;
  const hostNode = multi ? (filter ?? status?.node ?? null) : null;
  const isHome = !multi || (focus ? focus.home : true);
  const gpuGroups = useMemo(
    () => (multi ? shown.map((r) => ({ node: r.name, home: r.home, gpus: r.status?.gpus ?? [] })) : undefined),
    [multi, shown],
  );
  const host = shownStatus?.host ?? null;
  const conflicts = sched.ready ? { open: sched.conflicts.length, maxSeverity: sched.conflicts.reduce((m, c) => Math.max(m, c.severity), 0) } : null;
  return (
    <div className="view grid">
      {multi ? <NodeList rows={rows} selected={filter} onSelect={setFilter} error={error} /> : null}
      <div className="panel-wide">
        <Tiles status={shownStatus} queued={sched.ready ? sched.queue.length : null} conflicts={conflicts} gpuGroups={gpuGroups} filter={filter} />
      </div>
      {hostNode !== null ? (
        <h2 className="panel-wide node-host-heading" data-testid="host-node">
          Host · {hostNode}
        </h2>
      ) : null}
      <CpuPanel cpu={host?.cpu ?? null} />
      <MemoryPanel memory={host?.memory ?? null} />
      <DisksPanel disks={host?.disks ?? null} />
      <LatestEvents />
      {isHome ? <NetworkPanel network={host?.network ?? null} /> : <NetworkRates network={host?.network ?? null} />}
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
