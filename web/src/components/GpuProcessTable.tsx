import type { GpuProcess } from '../../../shared/resources.ts';
import { MISSING, formatMiB } from '../lib/format.ts';
import { shortContainerId } from '../lib/gpu.ts';

/** Processes holding memory on one GPU, the biggest first. Long command lines are cut with an ellipsis (full text in the tooltip). */
export function GpuProcessTable({ processes, gpuIndex, unmanaged }: { processes: readonly GpuProcess[]; gpuIndex: number; unmanaged?: ReadonlySet<number> }) {
  if (processes.length === 0) return <p className="gpu-procs-none muted">no processes</p>;
  const rows = [...processes].sort((a, b) => (b.usedMemoryMiB ?? -1) - (a.usedMemoryMiB ?? -1));
  const mig = rows.some((p) => p.gpuInstanceId !== null);
  return (
    <div className="gpu-procs">
      <table>
        <caption className="visually-hidden">Processes on GPU {gpuIndex}</caption>
        <thead>
          <tr>
            <th scope="col" className="num proc-pid">PID</th>
            <th scope="col" className="proc-name">process</th>
            <th scope="col" className="proc-user">user</th>
            <th scope="col" className="proc-container">container</th>
            {mig ? <th scope="col" className="proc-mig" title="MIG GPU instance / compute instance">GI/CI</th> : null}
            <th scope="col" className="num proc-mem">memory</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((p) => (
            <tr
              key={`${p.pid}-${p.gpuInstanceId ?? ''}-${p.computeInstanceId ?? ''}`}
              data-testid="gpu-process"
              data-pid={p.pid}
              data-unmanaged={unmanaged?.has(p.pid) ? 'true' : undefined}
              className={unmanaged?.has(p.pid) ? 'proc-unmanaged' : undefined}
            >
              <td className="num" title={[p.type ? `${TYPE[p.type]} process` : '', unmanaged?.has(p.pid) ? 'runs without an allocation' : ''].filter(Boolean).join('; ') || undefined}>
                {p.pid}
              </td>
              <td className="proc-name" title={p.name}>
                {p.name}
              </td>
              <td title={p.user ?? undefined}>{p.user ?? MISSING}</td>
              <td className="proc-container" title={containerTitle(p)} data-testid="gpu-process-container">
                {p.containerName ? p.containerName : p.containerId ? <code>{shortContainerId(p.containerId)}</code> : MISSING}
              </td>
              {mig ? <td className="num">{p.gpuInstanceId === null ? MISSING : `${p.gpuInstanceId}/${p.computeInstanceId ?? MISSING}`}</td> : null}
              <td className="num">{p.usedMemoryMiB === null ? MISSING : formatMiB(p.usedMemoryMiB)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

const TYPE: Record<NonNullable<GpuProcess['type']>, string> = { C: 'compute', G: 'graphics', 'C+G': 'compute and graphics' };

/** The container's name and full id, where known. */
function containerTitle(p: GpuProcess): string | undefined {
  if (!p.containerId) return p.containerName ?? undefined;
  return p.containerName ? `${p.containerName}\n${p.containerId}` : p.containerId;
}
