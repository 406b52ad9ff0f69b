import type { ResourceStatus } from '../../../shared/resources.ts';
import { formatClock } from '../lib/format.ts';
import { HealthBadge } from './HealthBadge.tsx';

/** Node name, overall health, the number of GPUs and containers (if any) and the time of the sample on screen. */
export function NodeSummary({ status }: { status: ResourceStatus | null }) {
  if (!status) return <div className="node muted">no data yet</div>;
  const host = status.host;
  const running = status.containers.filter((c) => c.state === 'running').length;
  return (
    <div className="node">
      <span className="node-name" title={host ? `host ${host.hostname}` : undefined}>
        {status.node}
      </span>
      <HealthBadge health={status.health} />
      {status.gpus.length > 0 ? (
        <span className="muted num" data-testid="gpu-count">
          {status.gpus.length} GPU{status.gpus.length === 1 ? '' : 's'}
        </span>
      ) : null}
      {status.containers.length > 0 ? (
        <span className="muted num" data-testid="container-count" title={`${running} running`}>
          {status.containers.length} container{status.containers.length === 1 ? '' : 's'}
        </span>
      ) : null}
      <span className="muted num" title="time of the sample shown">
        {formatClock(status.sampledAt)}
      </span>
    </div>
  );
}
