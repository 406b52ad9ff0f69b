import { memo, type ReactNode } from 'react';
import type { Gpu, Health, ResourceStatus } from '../../../shared/resources.ts';
import { Meter } from '../components/Meter.tsx';
import { anchor } from '../feed/subject.ts';
import { MISSING, formatBytes, formatCelsius, formatPercent, formatPercentOrMissing, formatRate } from '../lib/format.ts';
import { gpuMemoryPercent } from '../lib/gpu.ts';
import { Link } from '../lib/router.ts';
import { nodeLink } from '../nodes/rows.ts';

const RANK: Record<Health, number> = { healthy: 0, warning: 1, critical: 2, error: 3 };
const worst = (list: readonly Health[]): Health | null =>
  list.reduce<Health | null>((w, h) => (w === null || RANK[h] > RANK[w] ? h : w), null);

interface TileProps {
  id: string;
  to: string;
  label: string;
  figure: string;
  sub: ReactNode;
  health: Health | null;
  /** 0–100 for the bar; null: no bar */
  percent?: number | null;
  extra?: Record<string, string | number>;
}

/** One tile: a label, one big figure, one line under it, an optional bar; coloured by health. Fixed size. */
function Tile({ id, to, label, figure, sub, health, percent, extra }: TileProps) {
  return (
    <li>
      <Link to={to} className={`tile health-${health ?? 'none'}`} data-testid={`tile-${id}`} data-health={health ?? 'none'} {...extra}>
        <span className="tile-label">{label}</span>
        <span className="tile-figure num" data-testid="tile-figure">
          {figure}
        </span>
        <span className="tile-sub muted num">{sub}</span>
        {percent !== undefined ? <Meter value={percent} health={health} label={`${label}: ${figure}`} /> : <span className="tile-nobar" />}
      </Link>
    </li>
  );
}

export interface TilesProps {
  status: ResourceStatus | null;
  queued: number | null;
  conflicts: { open: number; maxSeverity: number } | null;
  /**
   * with several nodes: the GPUs to show, by node, each tile labelled `node · GPU i` (instead of `status`'s GPUs);
   * `filter` is the node filter the tiles' links keep
   */
  gpuGroups?: readonly GpuGroup[];
  filter?: string | null;
}

export interface GpuGroup {
  node: string;
  home: boolean;
  gpus: readonly Gpu[];
}

/** The node at a glance: CPU, memory, disks, network, each GPU, containers, the queue and open conflicts. */
export const Tiles = memo(function Tiles({ status, queued, conflicts, gpuGroups, filter = null }: TilesProps) {
  const host = status?.host ?? null;
  const disks = host?.disks ?? [];
  const fullest = disks.reduce<(typeof disks)[number] | null>((f, d) => (f === null || d.usedPercent > f.usedPercent ? d : f), null);
  const rx = host?.network.reduce((a, n) => a + n.rxBytesPerSec, 0) ?? null;
  const tx = host?.network.reduce((a, n) => a + n.txBytesPerSec, 0) ?? null;
  const containers = status?.containers ?? [];
  const running = containers.filter((c) => c.state === 'running').length;
  const conflictHealth: Health | null = conflicts === null ? null : conflicts.maxSeverity >= 4 ? 'critical' : conflicts.open > 0 ? 'warning' : 'healthy';
  return (
    <ul className="tiles" aria-label="At a glance" data-testid="tiles">
      <Tile
        id="cpu"
        to="/#cpu"
        label="CPU"
        figure={host ? formatPercent(host.cpu.loadPercent) : '– %'}
        sub={host ? `${host.cpu.cores} cores · load ${host.cpu.loadAvg[0].toFixed(2)}` : 'waiting…'}
        health={host?.cpu.health ?? null}
        percent={host?.cpu.loadPercent ?? null}
      />
      <Tile
        id="memory"
        to="/#memory"
        label="Memory"
        figure={host ? formatPercent(host.memory.usedPercent) : '– %'}
        sub={host ? `${formatBytes(host.memory.usedMiB * 2 ** 20)} of ${formatBytes(host.memory.totalMiB * 2 ** 20)}` : 'waiting…'}
        health={host?.memory.health ?? null}
        percent={host?.memory.usedPercent ?? null}
      />
      <Tile
        id="disks"
        to="/#disks"
        label="Disks"
        figure={fullest ? formatPercent(fullest.usedPercent) : '– %'}
        sub={fullest ? `fullest ${fullest.mount} · ${disks.length} mounted` : host ? 'none reported' : 'waiting…'}
        health={worst(disks.map((d) => d.health))}
        percent={fullest?.usedPercent ?? null}
      />
      <Tile
        id="network"
        to="/#network"
        label="Network"
        figure={rx === null ? MISSING : `↓ ${formatRate(rx)}`}
        sub={tx === null ? 'waiting…' : `↑ ${formatRate(tx)} · ${host?.network.length ?? 0} interfaces`}
        health={null}
      />
      {gpuGroups
        ? gpuGroups.flatMap(({ node, home, gpus }) =>
          gpus.map((g) => (
            <GpuTile key={`${node}\n${g.uuid}`} gpu={g} label={`${node} · GPU ${g.index}`} node={node}
              to={nodeLink('/gpus', filter, anchor.gpu(g.index, home ? undefined : node))} />
          )))
        : (status?.gpus ?? []).map((g) => <GpuTile key={g.uuid} gpu={g} label={`GPU ${g.index}`} to={`/gpus#${anchor.gpu(g.index)}`} />)}
      <Tile
        id="containers"
        to="/containers"
        label="Containers"
        figure={status ? `${running} / ${containers.length}` : MISSING}
        sub={status?.sources.docker?.status === 'ok' || containers.length > 0 ? 'running / all' : (status?.sources.docker?.status ?? 'no engine')}
        health={worst(containers.map((c) => c.health))}
      />
      <Tile
        id="queue"
        to="/scheduler"
        label="Queued requests"
        figure={queued === null ? MISSING : String(queued)}
        sub={queued === null ? 'loading…' : queued === 0 ? 'nothing waits' : 'waiting for resources'}
        health={queued === null ? null : queued > 0 ? 'warning' : 'healthy'}
      />
      <Tile
        id="conflicts"
        to="/scheduler#conflicts"
        label="Open conflicts"
        figure={conflicts === null ? MISSING : String(conflicts.open)}
        sub={conflicts === null ? 'loading…' : conflicts.open === 0 ? 'none' : `worst severity ${conflicts.maxSeverity}`}
        health={conflictHealth}
      />
    </ul>
  );
});

function GpuTile({ gpu: g, label, to, node }: { gpu: Gpu; label: string; to: string; node?: string }) {
  return (
    <Tile
      id="gpu"
      to={to}
      label={label}
      figure={formatPercentOrMissing(g.utilizationGpuPercent)}
      sub={`mem ${formatPercentOrMissing(gpuMemoryPercent(g))} · ${formatCelsius(g.temperatureC)}`}
      health={g.health}
      percent={g.utilizationGpuPercent}
      extra={node === undefined ? { 'data-gpu-index': g.index } : { 'data-gpu-index': g.index, 'data-node': node }}
    />
  );
}
