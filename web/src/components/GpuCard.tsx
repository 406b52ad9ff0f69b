import { memo, useId } from 'react';
import type { Gpu } from '../../../shared/resources.ts';
import type { AllocationView } from '../../../shared/api.ts';
import type { Conflict } from '../../../shared/scheduler.ts';
import { anchor } from '../feed/subject.ts';
import { MISSING, formatCelsius, formatGiBPair, formatMHz, formatPercentOrMissing, formatWattPair } from '../lib/format.ts';
import { gpuMemoryPercent } from '../lib/gpu.ts';
import { GpuHolding, unmanagedPids } from './GpuHolding.tsx';
import type { GpuNode } from './GpuPanel.tsx';
import { GpuProcessTable } from './GpuProcessTable.tsx';
import { GpuSparkline } from './GpuSparkline.tsx';
import { HealthBadge } from './HealthBadge.tsx';
import { Meter } from './Meter.tsx';
import { MigInstances } from './MigInstances.tsx';

export interface GpuCardProps {
  gpu: Gpu;
  /** its node, when the page shows several: the label says `node · GPU i` */
  node?: GpuNode;
  /** active allocations holding it, with their owners once known */
  allocations?: readonly AllocationView[];
  /** the open conflict saying it is used without an allocation */
  unmanaged?: Conflict | null;
  /** the scheduler's state has not arrived yet */
  schedulerLoading?: boolean;
}

const NONE: readonly AllocationView[] = [];

/** One GPU: utilisation and memory, temperature, power, the last minutes, who holds it, MIG instances and processes. */
export const GpuCard = memo(function GpuCard({ gpu, node, allocations = NONE, unmanaged = null, schedulerLoading = false }: GpuCardProps) {
  const id = useId();
  const label = node ? `${node.name} · GPU ${gpu.index}` : `GPU ${gpu.index}`;
  const memPct = gpuMemoryPercent(gpu);
  const details = [gpu.uuid, gpu.pciBusId && `bus ${gpu.pciBusId}`, gpu.driverVersion && `driver ${gpu.driverVersion}`]
    .filter(Boolean)
    .join(' · ');
  return (
    <article
      id={anchor.gpu(gpu.index, node && !node.home ? node.name : undefined)}
      tabIndex={-1}
      className={`gpu-card health-${gpu.health}${unmanaged ? ' gpu-card-unmanaged' : ''}`}
      aria-labelledby={id}
      data-testid="gpu-card"
      data-gpu-index={gpu.index}
      data-node={node?.name}
      data-health={gpu.health}
      data-status={gpu.status}
    >
      <header className="gpu-head">
        <span className="gpu-index num" data-testid="gpu-label">
          {label}
        </span>
        <h3 id={id} className="gpu-name" title={`${gpu.name}\n${details}`}>
          {gpu.name}
        </h3>
        <HealthBadge health={gpu.health} />
      </header>

      {gpu.status === 'error' ? (
        <p className="notice notice-bad gpu-lost" role="alert" data-testid="gpu-lost">
          {gpu.message ?? 'the driver cannot reach this GPU'}
        </p>
      ) : null}

      <div className="gpu-meters">
        <span className="sublabel">util</span>
        <Meter value={gpu.utilizationGpuPercent} label={`${label} utilisation`} />
        <span className="num" data-testid="gpu-util">
          {formatPercentOrMissing(gpu.utilizationGpuPercent)}
        </span>
        <span className="sublabel">memory</span>
        <Meter value={memPct} label={`${label} memory used`} />
        <span className="num" data-testid="gpu-mem">
          {formatGiBPair(gpu.memoryUsedMiB, gpu.memoryTotalMiB)}
        </span>
      </div>

      <dl className="facts gpu-facts">
        <div>
          <dt>temperature</dt>
          <dd data-testid="gpu-temp">{formatCelsius(gpu.temperatureC)}</dd>
        </div>
        <div>
          <dt>power</dt>
          <dd data-testid="gpu-power">{formatWattPair(gpu.powerDrawW, gpu.powerLimitW)}</dd>
        </div>
        <div>
          <dt>fan</dt>
          <dd>{gpu.fanPercent === null ? MISSING : `${Math.round(gpu.fanPercent)} %`}</dd>
        </div>
        <div>
          <dt>SM clock</dt>
          <dd>{gpu.clockSmMHz === null ? MISSING : formatMHz(gpu.clockSmMHz)}</dd>
        </div>
        <div>
          <dt>P-state</dt>
          <dd>{gpu.pstate ?? MISSING}</dd>
        </div>
      </dl>

      <Warnings gpu={gpu} />

      <GpuHolding index={gpu.index} allocations={allocations} unmanaged={unmanaged} loading={schedulerLoading} />

      {/* the history is the home node's */}
      {!node || node.home ? <GpuSparkline index={gpu.index} /> : null}

      {gpu.migInstances.length > 0 ? (
        <>
          <h4 className="gpu-sub">MIG instances</h4>
          <MigInstances instances={gpu.migInstances} />
        </>
      ) : null}

      <h4 className="gpu-sub">
        processes <span className="muted num">{gpu.processes.length}</span>
      </h4>
      <GpuProcessTable processes={gpu.processes} gpuIndex={gpu.index} unmanaged={unmanagedPids(unmanaged)} />
    </article>
  );
});

/** Throttling and uncorrected ECC errors: rare, so only shown when present. */
function Warnings({ gpu }: { gpu: Gpu }) {
  const ecc = gpu.eccErrorsUncorrected ?? 0;
  if (gpu.throttleReasons.length === 0 && ecc === 0) return null;
  return (
    <ul className="gpu-warnings">
      {gpu.throttleReasons.length > 0 ? (
        <li title="active clock throttle reasons">throttled: {gpu.throttleReasons.join(', ')}</li>
      ) : null}
      {ecc > 0 ? <li>{ecc} uncorrected ECC error{ecc === 1 ? '' : 's'}</li> : null}
    </ul>
  );
}
