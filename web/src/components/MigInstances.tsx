import type { MigInstance } from '../../../shared/resources.ts';
import { MISSING, formatGiBPair } from '../lib/format.ts';
import { Meter } from './Meter.tsx';

/** The MIG instances of a GPU: profile, GPU/compute instance ids, memory and SMs. */
export function MigInstances({ instances }: { instances: readonly MigInstance[] }) {
  if (instances.length === 0) return null;
  return (
    <ul className="mig" aria-label="MIG instances">
      {instances.map((m) => {
        const pct = m.memoryTotalMiB && m.memoryUsedMiB !== null ? (m.memoryUsedMiB / m.memoryTotalMiB) * 100 : null;
        const name = m.profile ?? `GI ${m.gpuInstanceId}`;
        return (
          <li key={`${m.gpuInstanceId}-${m.computeInstanceId ?? ''}`} className="mig-instance" data-testid="mig-instance">
            <span className="mig-profile" title={`MIG ${name}`}>{name}</span>
            <span className="mig-ids muted num" title="GPU instance / compute instance">
              GI {m.gpuInstanceId} · CI {m.computeInstanceId ?? MISSING}
            </span>
            {pct === null ? <span /> : <Meter value={pct} label={`MIG ${name} memory used`} />}
            <span className="num mig-mem">{formatGiBPair(m.memoryUsedMiB, m.memoryTotalMiB)}</span>
            <span className="num muted mig-sm">{m.smCount === null ? MISSING : `${m.smCount} SM`}</span>
          </li>
        );
      })}
    </ul>
  );
}
