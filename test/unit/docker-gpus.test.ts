import { describe, expect, it } from 'vitest';
import { containerGpus, matchContainerId, parseVisibleDevices } from '../../server/monitor/sources/docker/gpus.ts';

const INVENTORY = [
  { index: 0, uuid: 'GPU-aaaaaaaa-0000-0000-0000-000000000000' },
  { index: 1, uuid: 'GPU-bbbbbbbb-1111-1111-1111-111111111111' },
  { index: 2, uuid: 'GPU-cccccccc-2222-2222-2222-222222222222' },
  { index: 3, uuid: 'GPU-dddddddd-3333-3333-3333-333333333333' },
];
const uuid = (i: number) => INVENTORY[i]!.uuid;

// HostConfig.DeviceRequests as `docker run --gpus …` stores them
const GPUS_ALL = { Driver: '', Count: -1, DeviceIDs: null, Capabilities: [['gpu']] };
const GPUS_DEVICE_1_3 = { Driver: '', Count: 0, DeviceIDs: ['1', '3'], Capabilities: [['gpu']] };
const GPUS_2 = { Driver: '', Count: 2, DeviceIDs: null, Capabilities: [['gpu']] };

describe('containerGpus from device requests', () => {
  it('--gpus all: every GPU of the inventory', () => {
    expect(containerGpus({ deviceRequests: [GPUS_ALL] }, { inventory: INVENTORY })).toEqual(
      INVENTORY.map((g) => ({ index: g.index, uuid: g.uuid, via: 'device_request' })),
    );
  });

  it('--gpus all without an inventory: one entry, which GPUs unknown', () => {
    expect(containerGpus({ deviceRequests: [GPUS_ALL] })).toEqual([{ index: null, uuid: null, via: 'device_request' }]);
  });

  it('--gpus "device=1,3": those indices, uuids filled from the inventory', () => {
    expect(containerGpus({ deviceRequests: [GPUS_DEVICE_1_3] }, { inventory: INVENTORY })).toEqual([
      { index: 1, uuid: uuid(1), via: 'device_request' },
      { index: 3, uuid: uuid(3), via: 'device_request' },
    ]);
    expect(containerGpus({ deviceRequests: [GPUS_DEVICE_1_3] })).toEqual([
      { index: 1, uuid: null, via: 'device_request' },
      { index: 3, uuid: null, via: 'device_request' },
    ]);
  });

  it('--gpus 2: GPUs 0 and 1, as dockerd hands them out', () => {
    expect(containerGpus({ deviceRequests: [GPUS_2] }).map((g) => g.index)).toEqual([0, 1]);
  });

  it('device ids by uuid, with the index from the inventory; MIG "gpu:mig" pairs name their GPU', () => {
    const req = { Driver: 'nvidia', DeviceIDs: [uuid(2), '0:1'], Capabilities: [['gpu', 'compute']] };
    expect(containerGpus({ deviceRequests: [req] }, { inventory: INVENTORY })).toEqual([
      { index: 0, uuid: uuid(0), via: 'device_request' },
      { index: 2, uuid: uuid(2), via: 'device_request' },
    ]);
  });

  it('ignores requests for other devices', () => {
    expect(containerGpus({ deviceRequests: [{ Driver: 'amd', Count: -1, Capabilities: [['gpu']] }] })).toEqual([]);
    expect(containerGpus({ deviceRequests: [{ Driver: '', Count: -1, Capabilities: [['tpu']] }] })).toEqual([]);
    expect(containerGpus({ deviceRequests: [{ ...GPUS_ALL, Count: 0 }] })).toEqual([]);
  });

  it('CDI requests and devices (nvidia.com/gpu=…), and /dev/nvidiaN passed through', () => {
    expect(containerGpus({ deviceRequests: [{ Driver: 'cdi', DeviceIDs: ['nvidia.com/gpu=1'] }] }).map((g) => g.index)).toEqual([1]);
    expect(containerGpus({ devices: ['nvidia.com/gpu=all'] }, { inventory: INVENTORY })).toHaveLength(4);
    expect(containerGpus({ devices: ['/dev/nvidia2', '/dev/nvidiactl', '/dev/nvidia-uvm'] })).toEqual([
      { index: 2, uuid: null, via: 'device_request' },
    ]);
  });

  it('a device request wins over NVIDIA_VISIBLE_DEVICES in the env (the runtime sets it from the request)', () => {
    const gpus = containerGpus({ deviceRequests: [GPUS_DEVICE_1_3], env: ['NVIDIA_VISIBLE_DEVICES=all'] }, { inventory: INVENTORY });
    expect(gpus.map((g) => [g.index, g.via])).toEqual([[1, 'device_request'], [3, 'device_request']]);
  });
});

describe('containerGpus from the environment', () => {
  it('NVIDIA_VISIBLE_DEVICES indices and uuids', () => {
    expect(containerGpus({ env: ['PATH=/bin', 'NVIDIA_VISIBLE_DEVICES=0,2'] }, { inventory: INVENTORY })).toEqual([
      { index: 0, uuid: uuid(0), via: 'env' },
      { index: 2, uuid: uuid(2), via: 'env' },
    ]);
    expect(containerGpus({ env: [`NVIDIA_VISIBLE_DEVICES=${uuid(3)}`] }, { inventory: INVENTORY })).toEqual([
      { index: 3, uuid: uuid(3), via: 'env' },
    ]);
    expect(containerGpus({ env: [`NVIDIA_VISIBLE_DEVICES=${uuid(3)}`] })).toEqual([{ index: null, uuid: uuid(3), via: 'env' }]);
  });

  it('"all", "none", "void" and empty', () => {
    expect(containerGpus({ env: ['NVIDIA_VISIBLE_DEVICES=all'] }, { inventory: INVENTORY })).toHaveLength(4);
    for (const v of ['none', 'void', '', 'NONE']) expect(containerGpus({ env: [`NVIDIA_VISIBLE_DEVICES=${v}`] }, { inventory: INVENTORY })).toEqual([]);
  });

  it('the last definition of a variable wins', () => {
    expect(containerGpus({ env: ['NVIDIA_VISIBLE_DEVICES=all', 'NVIDIA_VISIBLE_DEVICES=1'] }).map((g) => g.index)).toEqual([1]);
  });

  it('CUDA_VISIBLE_DEVICES narrows what the container was given, by position', () => {
    const env = ['NVIDIA_VISIBLE_DEVICES=2,3', 'CUDA_VISIBLE_DEVICES=1'];
    expect(containerGpus({ env }, { inventory: INVENTORY })).toEqual([{ index: 3, uuid: uuid(3), via: 'env' }]);
    // within --gpus all, positions are the host's order
    expect(containerGpus({ deviceRequests: [GPUS_ALL], env: ['CUDA_VISIBLE_DEVICES=2,0'] }, { inventory: INVENTORY }).map((g) => g.index)).toEqual([0, 2]);
    // by uuid prefix
    expect(containerGpus({ deviceRequests: [GPUS_ALL], env: ['CUDA_VISIBLE_DEVICES=GPU-bbbb'] }, { inventory: INVENTORY }).map((g) => g.index)).toEqual([1]);
    // -1 hides every GPU from CUDA
    expect(containerGpus({ deviceRequests: [GPUS_ALL], env: ['CUDA_VISIBLE_DEVICES=-1'] }, { inventory: INVENTORY })).toEqual([]);
  });

  it('CUDA_VISIBLE_DEVICES alone names host GPUs', () => {
    expect(containerGpus({ env: ['CUDA_VISIBLE_DEVICES=1'] }).map((g) => [g.index, g.via])).toEqual([[1, 'env']]);
  });

  it('an engine whose runtime ignores the env: a CUDA image (which sets NVIDIA_VISIBLE_DEVICES=all) holds no GPU', () => {
    expect(containerGpus({ env: ['NVIDIA_VISIBLE_DEVICES=all'] }, { inventory: INVENTORY, honourEnv: false })).toEqual([]);
    expect(containerGpus({ deviceRequests: [GPUS_2], env: ['NVIDIA_VISIBLE_DEVICES=all'] }, { honourEnv: false })).toHaveLength(2);
  });

  it('a container without GPUs', () => {
    expect(containerGpus({ env: ['PATH=/usr/bin'], deviceRequests: null, devices: null })).toEqual([]);
    expect(containerGpus({})).toEqual([]);
  });
});

describe('parseVisibleDevices', () => {
  it('parses the values both variables take', () => {
    expect(parseVisibleDevices(undefined)).toBeUndefined();
    expect(parseVisibleDevices('all')).toEqual({ kind: 'all' });
    expect(parseVisibleDevices(' 0, 1 ')).toEqual({ kind: 'list', ids: ['0', '1'] });
    expect(parseVisibleDevices('0,-1,2')).toEqual({ kind: 'list', ids: ['0'] });
    expect(parseVisibleDevices('void')).toEqual({ kind: 'none' });
  });
});

describe('matchContainerId', () => {
  const a = { id: '3f35c5631f7e8c27f14c332dc9054d14165429aae73c187c68d8d61944a1d9ba', name: 'a' };
  const b = { id: '3f35c5631f7e0000000000000000000000000000000000000000000000000000', name: 'b' };
  const c = { id: '71c9d526e5292f161930e9976a0f08ce4000b1c11f442fd23040dd4c407a9044', name: 'c' };

  it('matches a full id from /proc/<pid>/cgroup', () => {
    expect(matchContainerId(c.id, [a, b, c])).toBe(c);
  });

  it('matches a unique prefix of 12 or more characters, case-insensitively', () => {
    expect(matchContainerId('71C9D526E529', [a, b, c])).toBe(c);
    expect(matchContainerId('3f35c5631f7e8', [a, b, c])).toBe(a);
  });

  it('refuses an ambiguous or too short prefix, and an unknown id', () => {
    expect(matchContainerId('3f35c5631f7e', [a, b, c])).toBeNull();
    expect(matchContainerId('71c9', [a, b, c])).toBeNull();
    expect(matchContainerId('ffffffffffffffff', [a, b, c])).toBeNull();
  });
});
