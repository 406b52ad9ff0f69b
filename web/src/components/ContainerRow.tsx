import { memo } from 'react';
import type { Container } from '../../../shared/resources.ts';
import { MISSING, formatMiB, formatPercentOrMissing, formatRate } from '../lib/format.ts';
import { gpuChipLabel, gpuChipTitle } from '../lib/containers.ts';
import { shortContainerId } from '../lib/gpu.ts';
import { anchor } from '../feed/subject.ts';
import { HealthBadge } from './HealthBadge.tsx';
import { Meter } from './Meter.tsx';

/** One container: every cell holds one line of fixed-width figures (or a bar), so live updates do not move anything. */
export const ContainerRow = memo(function ContainerRow({ c }: { c: Container }) {
  const restarts = c.restartCount > 0 ? ` · ${c.restartCount} restart${c.restartCount === 1 ? '' : 's'}` : '';
  const ports = c.ports.map((p) => `${p.publicPort !== null ? `${p.ip ?? ''}:${p.publicPort}→` : ''}${p.privatePort}/${p.type}`).join(', ');
  const labels = Object.entries(c.labels).map(([k, v]) => `${k}=${v}`);
  const nameTitle = [
    `${c.name} (${shortContainerId(c.id)})`,
    c.image,
    ports && `ports ${ports}`,
    c.pids !== null && `${c.pids} process${c.pids === 1 ? '' : 'es'}`,
    labels.length > 0 && `labels:\n  ${labels.join('\n  ')}`,
  ].filter(Boolean).join('\n');
  return (
    <tr
      id={anchor.container(c.id)}
      className={`ctr-row state-${c.state}`}
      data-testid="container-row"
      data-container-name={c.name}
      data-state={c.state}
      data-health={c.health}
    >
      <th scope="row" className="col-name" title={nameTitle}>
        <span className="ctr-name">{c.name}</span>
        <span className="ctr-status muted">
          {c.statusText}
          {restarts}
        </span>
      </th>
      <td className="col-image" title={c.image}>
        <span className="ctr-image">{c.image}</span>
      </td>
      <td className="col-state">
        <span className={`state-badge state-${c.state}`} title={c.statusText} data-testid="container-state">
          {c.state}
        </span>
      </td>
      <td className="col-cpu num" data-testid="container-cpu">
        {formatPercentOrMissing(c.cpuPercent)}
      </td>
      <td className="col-mem">
        <span className="ctr-mem num" data-testid="container-mem">
          {c.memoryUsedMiB === null ? MISSING : formatMiB(c.memoryUsedMiB)}
          <span className="ctr-mem-limit">{c.memoryLimitMiB === null ? '' : ` / ${formatMiB(c.memoryLimitMiB)}`}</span>
        </span>
        <span className="ctr-mem-bar">
          <Meter value={c.memoryPercent} label={`${c.name} memory, percent of its limit`} />
          <span className="num">{formatPercentOrMissing(c.memoryPercent)}</span>
        </span>
      </td>
      <td className="col-net num" data-testid="container-net">
        <span className="net-rx" title="receive">↓ {c.netRxBytesPerSec === null ? MISSING : formatRate(c.netRxBytesPerSec)}</span>{' '}
        <span className="net-tx" title="transmit">↑ {c.netTxBytesPerSec === null ? MISSING : formatRate(c.netTxBytesPerSec)}</span>
      </td>
      <td className="col-gpus">
        {c.gpus.length === 0 ? (
          <span className="muted">{MISSING}</span>
        ) : (
          <ul className="gpu-chips" aria-label="GPUs">
            {c.gpus.map((g, i) => (
              <li key={`${g.uuid ?? ''}-${g.index ?? i}`} className={`gpu-chip via-${g.via}`} title={gpuChipTitle(g)} data-testid="container-gpu">
                {gpuChipLabel(g)}
              </li>
            ))}
          </ul>
        )}
      </td>
      <td className="col-health" title={c.healthcheck ? `HEALTHCHECK: ${c.healthcheck}` : 'no HEALTHCHECK'}>
        <HealthBadge health={c.health} />
      </td>
    </tr>
  );
});
