// @vitest-environment jsdom
/** Behind a GPU or container source that is unavailable or failing: the server's doctor checks, asked when opened. */
import { act } from 'react';
import { afterEach, describe, expect, it } from 'vitest';
import type { DoctorResponse } from '../../shared/api.ts';
import type { SourceStatus } from '../../shared/resources.ts';
import { Diagnosis } from '../../web/src/components/Diagnosis.tsx';
import { GpuPanel } from '../../web/src/components/GpuPanel.tsx';
import { ContainersPanel } from '../../web/src/components/ContainersPanel.tsx';
import { SchedulerContext } from '../../web/src/scheduler/hooks.ts';
import { SchedulerStore } from '../../web/src/scheduler/store.ts';
import { mount, settle, type Mounted } from './dom.ts';
import { StaticSource } from './fakes.ts';
import { FakeSchedulerApi, T0, liveSnapshot } from './scheduler-fakes.ts';

let view: Mounted | undefined;
afterEach(() => view?.unmount());

const answer: DoctorResponse = {
  checks: [
    { id: 'nvidia-smi', source: 'gpu', status: 'fail', message: "nvidia-smi failed (exit 9): NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver", fix: 'reinstall the driver or reboot after an upgrade' },
    { id: 'pid-namespace', source: 'gpu', status: 'ok', message: 'not in a container' },
  ],
};

async function open(details: HTMLDetailsElement): Promise<void> {
  await act(async () => {
    details.open = true;
    details.dispatchEvent(new Event('toggle'));
  });
  await settle();
}

describe('diagnosis', () => {
  it('asks once, when opened, and lists each check with its fix', async () => {
    const asked: string[] = [];
    view = await mount(<Diagnosis source="gpu" load={(s) => (asked.push(s), Promise.resolve(answer))} />);
    expect(asked).toEqual([]);
    const details = view.byTestId<HTMLDetailsElement>('diagnosis')[0]!;
    await open(details);
    expect(asked).toEqual(['gpu']);
    const lines = view.byTestId('diagnosis-check').map((li) => li.textContent);
    expect(lines).toEqual([
      "✗ nvidia-smi failed (exit 9): NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver→ reinstall the driver or reboot after an upgrade",
      '✓ not in a container',
    ]);
    await open(details);
    expect(asked).toEqual(['gpu']);
  });

  it('sits behind an unavailable or failing source of this server, not behind another node\'s', async () => {
    const api = new FakeSchedulerApi();
    const wrap = (node: React.ReactNode) => <SchedulerContext.Provider value={{ store: new SchedulerStore(new StaticSource(liveSnapshot()), { api, now: () => T0, setTimeout, clearTimeout }), api }}>{node}</SchedulerContext.Provider>;
    const src = (status: SourceStatus['status'], message?: string): SourceStatus => ({ status, lastSampleAt: null, lastErrorAt: null, consecutiveFailures: 0, nextRetryAt: null, ...(message ? { message } : {}) });
    view = await mount(wrap(<>
      <GpuPanel gpus={[]} source={src('unavailable', 'nvidia-smi not found')} />
      <GpuPanel gpus={[]} source={src('unavailable', 'nvidia-smi not found')} node={{ name: 'n2', home: false }} />
      <ContainersPanel containers={[]} source={src('error', 'permission denied')} />
      <ContainersPanel containers={[]} source={src('ok')} />
    </>));
    const groups = view.byTestId('gpu-group');
    expect(view.byTestId('diagnosis', groups[0]!)).toHaveLength(1);
    expect(view.byTestId('diagnosis', groups[1]!)).toHaveLength(0);
    const ctr = view.byTestId('containers');
    expect(view.byTestId('diagnosis', ctr[0]!)).toHaveLength(1);
    expect(view.byTestId('diagnosis', ctr[1]!)).toHaveLength(0);
  });
});
