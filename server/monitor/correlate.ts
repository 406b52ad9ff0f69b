/**
 * GPU ↔ container, both ways: a GPU process whose cgroup names a container gets that container's name, and the
 * container lists the GPU (via "process") besides what its device requests and env say. Index and uuid of each
 * container GPU are completed from the GPU list. Pure: the board calls it on every snapshot.
 */
import type { Container, ContainerGpu, Gpu } from '../../shared/resources.ts';

/** Docker ids are 64 hex; cgroups and APIs may show a prefix of either. */
export function sameContainer(a: string, b: string): boolean {
  return a.length >= 12 && b.length >= 12 && (a.startsWith(b) || b.startsWith(a));
}

export function correlate(gpus: Gpu[], containers: Container[]): { gpus: Gpu[]; containers: Container[] } {
  if (containers.length === 0) return { gpus, containers };
  const byUuid = new Map(gpus.map((g) => [g.uuid, g]));
  const byIndex = new Map(gpus.map((g) => [g.index, g]));
  const complete = (cg: ContainerGpu): ContainerGpu => {
    const g = (cg.uuid !== null ? byUuid.get(cg.uuid) : undefined) ?? (cg.index !== null ? byIndex.get(cg.index) : undefined);
    return g ? { ...cg, index: g.index, uuid: g.uuid } : cg;
  };

  const processGpus = new Map<string, ContainerGpu[]>();
  const outGpus = gpus.map((g) => {
    if (!g.processes.some((p) => p.containerId)) return g;
    return {
      ...g,
      processes: g.processes.map((p) => {
        if (!p.containerId) return p;
        const c = containers.find((x) => sameContainer(x.id, p.containerId!));
        if (!c) return p;
        const list = processGpus.get(c.id) ?? [];
        if (!list.some((x) => x.uuid === g.uuid)) list.push({ index: g.index, uuid: g.uuid, via: 'process' });
        processGpus.set(c.id, list);
        return { ...p, containerName: c.name };
      }),
    };
  });

  const outContainers = containers.map((c) => {
    const extra = processGpus.get(c.id) ?? [];
    if (c.gpus.length === 0 && extra.length === 0) return c;
    const merged: ContainerGpu[] = [];
    for (const cg of [...c.gpus.map(complete), ...extra]) {
      const dup = merged.find((m) => (m.uuid !== null && m.uuid === cg.uuid) || (m.index !== null && m.index === cg.index));
      if (!dup) merged.push(cg);
    }
    return { ...c, gpus: merged };
  });
  return { gpus: outGpus, containers: outContainers };
}
