import { memo } from 'react';
import type { Disk, Health } from '../../../shared/resources.ts';
import { formatBytes, formatPercent } from '../lib/format.ts';
import { Meter } from './Meter.tsx';
import { Panel, Waiting } from './Panel.tsx';

const RANK: Record<Health, number> = { healthy: 0, warning: 1, critical: 2, error: 3 };

export const DisksPanel = memo(function DisksPanel({ disks }: { disks: readonly Disk[] | null }) {
  const worst = disks?.reduce<Health | null>((w, d) => (w === null || RANK[d.health] > RANK[w] ? d.health : w), null);
  return (
    <Panel title="Disks" health={worst ?? null} testId="disks">
      {disks === null ? (
        <Waiting />
      ) : disks.length === 0 ? (
        <p className="muted">no filesystems reported</p>
      ) : (
        <ul className="disks">
          {disks.map((d) => (
            <li key={d.mount} className="disk" data-testid="disk" data-health={d.health}>
              <span className="disk-mount" title={`${d.device} (${d.fsType})`}>
                {d.mount}
              </span>
              <Meter value={d.usedPercent} health={d.health} label={`${d.mount} used`} />
              <span className="disk-pct num">{formatPercent(d.usedPercent)}</span>
              <span className="disk-size num muted">
                {formatBytes(d.usedBytes)} / {formatBytes(d.sizeBytes)}
              </span>
            </li>
          ))}
        </ul>
      )}
    </Panel>
  );
});
