import { useId, type ReactNode } from 'react';
import type { Gpu, SourceStatus } from '../../../shared/resources.ts';
import { formatClock } from '../lib/format.ts';
import { useScheduler } from '../scheduler/hooks.ts';
import { allocationsOnGpu, unmanagedUseOf } from '../scheduler/store.ts';
import { Diagnosis } from './Diagnosis.tsx';
import { GpuCard } from './GpuCard.tsx';

export interface GpuPanelProps {
  /** null until the first snapshot */
  gpus: readonly Gpu[] | null;
  /** the gpu source (`sources.gpu`); absent when the server has none */
  source: SourceStatus | undefined;
  /**
   * the node these GPUs are on, when the page shows several: in the title and on every card, and whose
   * allocations the cards show; absent: the one node
   */
  node?: GpuNode;
  /** more of the header (the node's health and reachability) */
  aside?: ReactNode;
  /** the figures are old (the node does not report): dimmed */
  stale?: boolean;
}

export interface GpuNode {
  name: string;
  /** the node the server is: its GPUs have history (sparklines) and its unmanaged users keep the short key */
  home: boolean;
}

/**
 * The GPUs of the node: a card each; a quiet line on a machine without NVIDIA GPUs; the source's
 * message, prominently, when nvidia-smi fails (with the last figures dimmed below it, if any).
 */
export function GpuPanel({ gpus, source, node, aside, stale = false }: GpuPanelProps) {
  const id = useId();
  const sched = useScheduler();
  const failed = source?.status === 'error';
  const count = gpus?.length ?? 0;
  const title = node ? `GPUs · ${node.name}` : 'GPUs';
  const nodeAttr = node ? { 'data-node': node.name } : {};

  if (!failed && count === 0) {
    const waiting = gpus === null || source?.status === 'starting';
    return (
      <section className="gpus gpus-none panel-wide" aria-labelledby={id} data-testid="gpu-group" {...nodeAttr}>
        <h2 id={id}>{title}</h2>
        {aside}
        {waiting ? (
          <p className="waiting">waiting for first GPU sample…</p>
        ) : (
          <p className="muted" data-testid="gpu-empty">
            No NVIDIA GPU
            <span className="gpu-empty-why"> · {source?.message ?? (source ? 'the driver reports none' : 'no GPU source on this server')}</span>
          </p>
        )}
        {!waiting && source?.status === 'unavailable' && (!node || node.home) ? <Diagnosis source="gpu" /> : null}
      </section>
    );
  }

  const driver = gpus?.find((g) => g.driverVersion)?.driverVersion;
  return (
    <section className="gpus panel-wide" aria-labelledby={id} data-testid="gpu-group" {...nodeAttr}>
      <header className="gpus-head">
        <h2 id={id}>{title}</h2>
        {aside}
        <span className="muted num">
          {count} GPU{count === 1 ? '' : 's'}
          {driver ? ` · driver ${driver}` : ''}
        </span>
      </header>
      {failed ? (
        <div className="notice notice-bad gpu-error" role="alert" data-testid="gpu-error">
          <strong>GPU monitoring failed</strong>
          <p className="gpu-error-message">{source.message ?? 'nvidia-smi failed'}</p>
          <p className="muted">
            {count > 0 ? 'The figures below are the last ones read. ' : ''}
            {source.nextRetryAt ? `Next try at ${formatClock(source.nextRetryAt)}.` : ''}
            {source.lastSampleAt ? ` Last sample at ${formatClock(source.lastSampleAt)}.` : ''}
          </p>
          {!node || node.home ? <Diagnosis source="gpu" /> : null}
        </div>
      ) : null}
      {count > 0 ? (
        <div className={failed || stale ? 'gpu-grid stale' : 'gpu-grid'}>
          {gpus!.map((g) => (
            <GpuCard
              key={g.uuid}
              gpu={g}
              node={node}
              allocations={allocationsOnGpu(sched, g.index, node?.name)}
              unmanaged={unmanagedUseOf(sched, g.index, node && !node.home ? node.name : undefined)}
              schedulerLoading={!sched.ready}
            />
          ))}
        </div>
      ) : null}
    </section>
  );
}
