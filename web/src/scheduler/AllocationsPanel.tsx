import { memo, useId, useState } from 'react';
import type { AllocationView } from '../../../shared/api.ts';
import { TimeLeft } from '../components/Countdown.tsx';
import { anchor } from '../feed/subject.ts';
import { errorMessage } from '../lib/api.ts';
import { formatClock, formatResources } from '../lib/format.ts';
import { useNow } from '../live/hooks.ts';
import { useScheduler, useSchedulerApi } from './hooks.ts';

const PALETTE = 8;
const TICKS = 4;
/** bars narrower than this (percent of the window) carry their label outside, to their left */
const NARROW = 8;

/** A colour per owner, the same everywhere on the page. */
export function ownerColour(owner: string): number {
  let h = 0;
  for (let i = 0; i < owner.length; i++) h = (h * 31 + owner.charCodeAt(i)) >>> 0;
  return h % PALETTE;
}

export interface Lane {
  key: string;
  label: string;
  bars: Bar[];
}
export interface Bar {
  allocation: AllocationView;
  owner: string;
  /** percent of the window */
  left: number;
  width: number;
}

/**
 * Lanes per device over the window ending `now`: one per GPU (those the node has, and any an allocation names),
 * and one for allocations without a GPU. Pure, for tests.
 */
export function timelineLanes(
  allocations: readonly AllocationView[],
  gpuIndices: readonly number[],
  now: number,
  windowMs: number,
): Lane[] {
  const from = now - windowMs;
  const gpus = new Set(gpuIndices);
  for (const a of allocations) for (const i of a.gpuIndices) gpus.add(i);
  const lanes = new Map<string, Lane>();
  for (const i of [...gpus].sort((x, y) => x - y)) lanes.set(`gpu:${i}`, { key: `gpu:${i}`, label: `GPU ${i}`, bars: [] });
  for (const a of allocations) {
    const start = Math.max(a.grantedAt, from);
    const end = Math.min(a.state === 'active' ? now : (a.endedAt ?? now), now);
    if (end < from || end < start) continue;
    const bar = (): Bar => ({
      allocation: a,
      owner: a.owner ?? '?',
      left: ((start - from) / windowMs) * 100,
      width: Math.max(0.5, ((end - start) / windowMs) * 100),
    });
    if (a.gpuIndices.length === 0) {
      if (!lanes.has('cpu')) lanes.set('cpu', { key: 'cpu', label: 'CPU/RAM', bars: [] });
      lanes.get('cpu')!.bars.push(bar());
    }
    for (const i of a.gpuIndices) lanes.get(`gpu:${i}`)!.bars.push(bar());
  }
  return [...lanes.values()];
}

/** Who held which device over the last hour, and the active allocations with their leases. */
export function AllocationsPanel({ gpuIndices }: { gpuIndices: readonly number[] }) {
  const id = useId();
  const sched = useScheduler();
  const active = sched.allocations.filter((a) => a.state === 'active');
  return (
    <section className="panel allocations-panel" aria-labelledby={id} data-testid="allocations">
      <header className="panel-head">
        <h2 id={id}>Allocations</h2>
        <span className="muted num">{sched.ready ? `${active.length} active` : 'loading…'}</span>
      </header>
      <Timeline allocations={sched.allocations} gpuIndices={gpuIndices} windowMs={sched.windowMs} />
      {active.length > 0 ? <ActiveTable allocations={active} /> : <p className="muted">No active allocation.</p>}
    </section>
  );
}

const Timeline = memo(function Timeline({
  allocations,
  gpuIndices,
  windowMs,
}: {
  allocations: readonly AllocationView[];
  gpuIndices: readonly number[];
  windowMs: number;
}) {
  // bars grow with time: redraw every few seconds (a bar of one hour gains a pixel in ~5 s on a wide screen)
  const now = useNow(5000, true);
  const lanes = timelineLanes(allocations, gpuIndices, now, windowMs);
  const minutes = Math.round(windowMs / 60_000);
  if (lanes.length === 0) return <p className="muted">No devices to show yet.</p>;
  return (
    <figure className="timeline" data-testid="timeline" aria-label={`Allocations per device, last ${minutes} minutes`}>
      <div className="timeline-lanes">
        {lanes.map((lane) => (
          <div className="lane" key={lane.key} data-testid="timeline-lane" data-lane={lane.key}>
            <span className="lane-label num">{lane.label}</span>
            <div className="lane-track">
              {lane.bars.map((b) => {
                const a = b.allocation;
                const ended = a.state !== 'active';
                const title = `${b.owner} · ${formatResources(a.resources)} · ${formatClock(a.grantedAt)}–${ended && a.endedAt ? `${formatClock(a.endedAt)} (${a.state})` : 'now'}`;
                return (
                  <a
                    key={a.id}
                    href={`#${anchor.allocation(a.id)}`}
                    className={`bar${ended ? ' ended' : ''}${a.suspendedAt ? ' suspended' : ''}${a.preemptAt ? ' preempting' : ''}${b.width < NARROW ? ' narrow' : ''}`}
                    style={{ left: `${b.left}%`, width: `${b.width}%`, ['--bar' as string]: `var(--series-${ownerColour(b.owner)})` }}
                    title={title}
                    aria-label={title}
                    data-testid="timeline-bar"
                    data-owner={b.owner}
                  >
                    <span className="bar-label">{b.owner}</span>
                  </a>
                );
              })}
            </div>
          </div>
        ))}
      </div>
      <div className="timeline-axis muted num" aria-hidden="true">
        {Array.from({ length: TICKS + 1 }, (_, k) => (
          <span key={k} style={{ left: `${(k / TICKS) * 100}%` }}>
            {k === TICKS ? 'now' : `−${Math.round(minutes - (k * minutes) / TICKS)} min`}
          </span>
        ))}
      </div>
    </figure>
  );
});

function ActiveTable({ allocations }: { allocations: readonly AllocationView[] }) {
  return (
    <div className="table-scroll">
      <table className="data-table alloc-table">
        <caption className="visually-hidden">Active allocations</caption>
        <thead>
          <tr>
            <th scope="col">Owner</th>
            <th scope="col">GPUs</th>
            <th scope="col">Resources</th>
            <th scope="col" className="num">Since</th>
            <th scope="col" className="num">Lease left</th>
            <th scope="col" className="col-actions">
              <span className="visually-hidden">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {allocations.map((a) => (
            <AllocationRow key={a.id} allocation={a} owner={a.owner ?? '?'} />
          ))}
        </tbody>
      </table>
    </div>
  );
}

function AllocationRow({ allocation: a, owner }: { allocation: AllocationView; owner: string }) {
  const api = useSchedulerApi();
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<string | null>(null);
  const release = () => {
    setBusy(true);
    setProblem(null);
    api.release(a.id).then(
      () => setBusy(false),
      (err: unknown) => {
        setBusy(false);
        setProblem(errorMessage(err));
      },
    );
  };
  return (
    <tr id={anchor.allocation(a.id)} tabIndex={-1} data-testid="allocation-row" data-owner={owner}>
      <th scope="row">
        <span className="swatch" style={{ ['--swatch' as string]: `var(--series-${ownerColour(owner)})` }} aria-hidden="true" /> {owner}
        {a.suspendedAt ? <span className="tag">suspended</span> : null}
        {a.preemptAt ? <span className="tag tag-bad">preempted at {formatClock(a.preemptAt)}</span> : null}
      </th>
      <td className="num">{a.gpuIndices.length ? a.gpuIndices.join(', ') : '–'}</td>
      <td>
        {formatResources(a.resources)}
        {problem ? (
          <span className="row-problem" role="alert">
            {problem}
          </span>
        ) : null}
      </td>
      <td className="num">{formatClock(a.grantedAt)}</td>
      <td className="num">
        <TimeLeft until={a.leaseExpiresAt} />
      </td>
      <td className="col-actions">
        <button type="button" className="danger" disabled={busy} onClick={release} data-testid="release">
          {busy ? 'Releasing…' : 'Release'}
        </button>
      </td>
    </tr>
  );
}
