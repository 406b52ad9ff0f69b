import { memo, useMemo } from 'react';
import { AllocationsPanel } from './AllocationsPanel.tsx';
import { QueuePanel } from './QueuePanel.tsx';
import { RequestForm } from './RequestForm.tsx';

/** The conflict queue, the allocations per device, and the form to ask for resources. */
export const SchedulerView = memo(function SchedulerView({ gpuIndices }: { gpuIndices: string }) {
  const gpus = useMemo(() => (gpuIndices ? gpuIndices.split(',').map(Number) : []), [gpuIndices]);
  return (
    <div className="view grid scheduler-view">
      <QueuePanel />
      <RequestForm />
      <AllocationsPanel gpuIndices={gpus} />
    </div>
  );
});
