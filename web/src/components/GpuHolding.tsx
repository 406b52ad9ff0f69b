import type { AllocationView } from '../../../shared/api.ts';
import type { Conflict } from '../../../shared/scheduler.ts';
import { anchor } from '../feed/subject.ts';
import { formatClock } from '../lib/format.ts';
import { Link } from '../lib/router.ts';
import { TimeLeft } from './Countdown.tsx';

export interface GpuHoldingProps {
  index: number;
  /** active allocations on this GPU, with their owners once known */
  allocations: readonly AllocationView[];
  /** the open `unmanaged:gpu:<index>` conflict, if any */
  unmanaged: Conflict | null;
  /** the scheduler state is not known yet */
  loading: boolean;
}

/** Who holds the GPU (owner, since, lease left), or that something uses it without an allocation. */
export function GpuHolding({ index, allocations, unmanaged, loading }: GpuHoldingProps) {
  return (
    <div className="gpu-holding" data-testid="gpu-holding">
      {allocations.length === 0 && !unmanaged ? (
        <p className="muted gpu-free">{loading ? 'allocation: loading…' : 'no allocation'}</p>
      ) : null}
      {allocations.length > 0 ? (
        <ul className="gpu-holders">
          {allocations.map((a) => {
            const owner = a.owner ?? '?';
            const share = a.resources.gpuMemMiB ? '(a share) ' : '';
            return (
              <li key={a.id} data-testid="gpu-holder" data-owner={owner} className={a.suspendedAt ? 'suspended' : a.preemptAt ? 'preempting' : undefined}>
                <Link to={`/scheduler#${anchor.allocation(a.id)}`} className="holder-owner" title={`allocation ${a.id}`}>
                  {owner}
                </Link>{' '}
                <span className="muted">
                  {share}since <span className="num">{formatClock(a.grantedAt)}</span>
                </span>{' '}
                <span className="holder-lease muted">
                  {a.preemptAt ? (
                    <>
                      preempted in <TimeLeft until={a.preemptAt} />
                    </>
                  ) : a.suspendedAt ? (
                    'suspended'
                  ) : (
                    <>
                      lease <TimeLeft until={a.leaseExpiresAt} /> left
                    </>
                  )}
                </span>
              </li>
            );
          })}
        </ul>
      ) : null}
      {unmanaged ? (
        <p className="notice notice-warn gpu-unmanaged" role="status" data-testid="gpu-unmanaged" title={unmanaged.message}>
          <strong>unmanaged use</strong>{' '}
          {unmanaged.holders
            .filter((h) => h.kind === 'process')
            .map((h) => `${cut(h.name)}${h.pid !== null ? ` (pid ${h.pid})` : ''}`)
            .join(', ') || 'a process'}{' '}
          uses GPU {index} without an allocation
        </p>
      ) : null}
    </div>
  );
}

/** A command line cut to its start (the process table has it whole). */
function cut(name: string, max = 32): string {
  return name.length > max ? `${name.slice(0, max - 1)}…` : name;
}

/** The pids an unmanaged-use conflict names. */
export function unmanagedPids(c: Conflict | null): ReadonlySet<number> {
  const out = new Set<number>();
  for (const h of c?.holders ?? []) if (h.kind === 'process' && h.pid !== null) out.add(h.pid);
  return out;
}
