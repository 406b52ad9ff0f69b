import { useMemo } from 'react';
import type { NetworkInterface } from '../../../shared/resources.ts';
import { NetworkChart } from './NetworkChart.tsx';
import { Panel, Waiting } from './Panel.tsx';

export function NetworkPanel({ network }: { network: readonly NetworkInterface[] | null }) {
  // re-create the chart only when the set of interfaces changes, not on every sample
  const key = network ? network.map((n) => n.iface).join('\n') : '';
  const ifaces = useMemo(() => (key ? key.split('\n') : []), [key]);
  return (
    <Panel title="Network" wide testId="network" aside={<span className="muted">last 10 min</span>}>
      {network === null ? (
        <div className="chart-placeholder">
          <Waiting />
        </div>
      ) : (
        <NetworkChart ifaces={ifaces} network={network} />
      )}
    </Panel>
  );
}
