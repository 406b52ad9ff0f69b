import type { LiveSource } from './live/connection.ts';
import { LiveContext, useLiveSnapshot, useLiveSource } from './live/hooks.ts';
import { AuthNotice } from './components/AuthNotice.tsx';
import { ConnectionIndicator } from './components/ConnectionIndicator.tsx';
import { ContainersPanel } from './components/ContainersPanel.tsx';
import { CpuPanel } from './components/CpuPanel.tsx';
import { DisksPanel } from './components/DisksPanel.tsx';
import { GpuPanel } from './components/GpuPanel.tsx';
import { MemoryPanel } from './components/MemoryPanel.tsx';
import { NetworkPanel } from './components/NetworkPanel.tsx';
import { NodeSummary } from './components/NodeSummary.tsx';
import { SourceAlerts } from './components/SourceAlerts.tsx';

/** sources whose errors their own view shows */
const OWN_VIEW_SOURCES = ['gpu', 'docker'];

export function App({ source }: { source: LiveSource }) {
  return (
    <LiveContext.Provider value={source}>
      <Dashboard />
    </LiveContext.Provider>
  );
}

function Dashboard() {
  const source = useLiveSource();
  const snap = useLiveSnapshot();
  const status = snap.latest.resource_status?.data ?? null;
  const host = status?.host ?? null;
  const unauthenticated = snap.state.kind === 'unauthenticated';
  const stale = snap.state.kind !== 'live';
  return (
    <div className="app">
      <header className="topbar">
        <h1 className="brand">Arbiter</h1>
        {unauthenticated ? <div className="node" /> : <NodeSummary status={status} />}
        <ConnectionIndicator state={snap.state} lastEventId={snap.lastEventId} onRetry={source.retryNow} />
      </header>
      {unauthenticated ? (
        <main className="main">
          <AuthNotice onRetry={source.retryNow} />
        </main>
      ) : (
        <main className={stale ? 'main grid stale' : 'main grid'} aria-busy={status === null}>
          {/* the GPU and container views show their own source's error */}
          <SourceAlerts sources={status?.sources} except={OWN_VIEW_SOURCES} />
          <GpuPanel gpus={status?.gpus ?? null} source={status?.sources.gpu} />
          <CpuPanel cpu={host?.cpu ?? null} />
          <MemoryPanel memory={host?.memory ?? null} />
          <DisksPanel disks={host?.disks ?? null} />
          <ContainersPanel containers={status?.containers ?? null} source={status?.sources.docker} />
          <NetworkPanel network={host?.network ?? null} />
        </main>
      )}
    </div>
  );
}
