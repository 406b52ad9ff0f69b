import { useId, useMemo, useState, type ReactNode } from 'react';
import type { Container, SourceStatus } from '../../../shared/resources.ts';
import { DEFAULT_CONTAINER_SORT, filterContainers, nextSort, sortContainers, type ContainerSort } from '../lib/containers.ts';
import { formatClock } from '../lib/format.ts';
import { Diagnosis } from './Diagnosis.tsx';
import { ContainersTable } from './ContainersTable.tsx';

export interface ContainersPanelProps {
  /** null until the first snapshot */
  containers: readonly Container[] | null;
  /** the docker source (`sources.docker`); absent when the server has none */
  source: SourceStatus | undefined;
  /** the node these containers run on, when the page shows several (in the title); absent: the one node */
  node?: string;
  /** more of the header (the node's health and reachability) */
  aside?: ReactNode;
}

/**
 * The node's Docker/Podman containers: a sortable, filterable table; a quiet line without an engine or without
 * containers; the source's message, prominently, when the engine connection is lost (the last rows dimmed below it).
 */
export function ContainersPanel({ containers, source, node, aside }: ContainersPanelProps) {
  const id = useId();
  const title = node === undefined ? 'Containers' : `Containers · ${node}`;
  const [sort, setSort] = useState<ContainerSort>(DEFAULT_CONTAINER_SORT);
  const [query, setQuery] = useState('');
  const all = containers ?? [];
  const rows = useMemo(() => sortContainers(filterContainers(all, query), sort), [all, query, sort]);
  const failed = source?.status === 'error';

  if (!failed && all.length === 0) {
    const waiting = containers === null || source?.status === 'starting';
    return (
      <section className="quiet-none panel-wide" aria-labelledby={id} data-testid="containers" data-node={node}>
        <h2 id={id}>{title}</h2>
        {aside}
        {waiting ? (
          <p className="waiting">waiting for first container sample…</p>
        ) : (
          <p className="muted" data-testid="containers-empty">
            {source?.status === 'ok' ? (
              'No containers'
            ) : (
              <>
                No Docker or Podman engine
                <span className="quiet-why"> · {source?.message ?? 'no container source on this server'}</span>
              </>
            )}
          </p>
        )}
        {!waiting && source?.status === 'unavailable' && node === undefined ? <Diagnosis source="docker" /> : null}
      </section>
    );
  }

  const running = all.filter((c) => c.state === 'running').length;
  return (
    <section className="panel panel-wide ctr-panel" aria-labelledby={id} data-testid="containers" data-node={node}>
      <header className="panel-head ctr-head">
        <h2 id={id}>{title}</h2>
        {aside}
        {all.length > 0 ? (
          <>
            <span className="muted num ctr-count" data-testid="containers-count" title={`${running} running`}>
              {rows.length} of {all.length}
            </span>
            <input
          type="search"
          className="ctr-filter"
          data-testid="containers-filter"
          aria-label="Filter containers by name, image, state or label"
          placeholder="Filter: name, image, state, label"
          value={query}
          onChange={(e) => setQuery(e.target.value)}
          onKeyDown={(e) => {
            if (e.key === 'Escape') setQuery('');
          }}
              spellCheck={false}
              autoComplete="off"
            />
          </>
        ) : null}
      </header>
      {failed ? (
        <div className="notice notice-bad source-failed" role="alert" data-testid="containers-error">
          <strong>Container monitoring failed</strong>
          <p className="source-failed-message">{source.message ?? 'the Docker/Podman engine does not answer'}</p>
          <p className="muted">
            {all.length > 0 ? 'The rows below are the last ones read. ' : ''}
            {source.nextRetryAt ? `Next try at ${formatClock(source.nextRetryAt)}.` : ''}
            {source.lastSampleAt ? ` Last sample at ${formatClock(source.lastSampleAt)}.` : ''}
          </p>
          {node === undefined ? <Diagnosis source="docker" /> : null}
        </div>
      ) : null}
      {all.length > 0 ? (
        <div className={failed ? 'ctr-scroll stale' : 'ctr-scroll'}>
          <ContainersTable rows={rows} sort={sort} onSort={(key) => setSort((s) => nextSort(s, key))} query={query} />
        </div>
      ) : null}
    </section>
  );
}
