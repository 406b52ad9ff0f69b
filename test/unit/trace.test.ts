import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  TraceFormatError, findTraceFiles, gpuMemoryOfModel, hashedOwner, parseNodes, parsePods, podsToJobs, readNodes, readPods,
  stableHash, type TracePod,
} from '../../server/sim/trace.ts';
import { ResourcesInputSchema } from '../../shared/scheduler.ts';

const HEADER = 'name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,deletion_time,scheduled_time';
const csv = (...rows: string[]) => [HEADER, ...rows].join('\n') + '\n';

const SMALL = csv(
  'p-whole,12000,16384,1,1000,,LS,Running,0,1000,0',
  'p-frac,6000,12288,1,460,,Burstable,Succeeded,10,110,12',
  'p-cpu,4000,8192,0,0,,Guaranteed,Failed,20,80,20',
  'p-pending,11908,47104,1,1000,,BE,Pending,30,155,',
  'p-eight,64000,262144,8,1000,V100M16|V100M32,BE,Running,40,340,40',
);

function formatError(fn: () => unknown): TraceFormatError {
  try {
    fn();
  } catch (e) {
    if (e instanceof TraceFormatError) return e;
    throw e;
  }
  throw new Error('expected a TraceFormatError');
}

describe('parsePods', () => {
  it('reads every column of a pod row (times in seconds; empty scheduled_time: never scheduled)', () => {
    const pods = parsePods(SMALL);
    expect(pods).toHaveLength(5);
    expect(pods[1]).toEqual({
      name: 'p-frac', cpuMilli: 6000, memoryMiB: 12288, numGpu: 1, gpuMilli: 460, gpuSpec: [], qos: 'Burstable',
      podPhase: 'Succeeded', creationTime: 10, deletionTime: 110, scheduledTime: 12,
    } satisfies TracePod);
    expect(pods[3]).toMatchObject({ name: 'p-pending', podPhase: 'Pending', scheduledTime: null, deletionTime: 155 });
    expect(pods[4]!.gpuSpec).toEqual(['V100M16', 'V100M32']);
  });

  it('takes columns in any order, ignores extra ones, CRLF, a BOM, quoted fields and blank lines', () => {
    const text = '\uFEFFqos,extra,name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,pod_phase,creation_time,deletion_time,scheduled_time\r\n'
      + 'LS,"x, with comma",p1,1000,1024,1,250,"T4|""A10""",Running,5,15,6\r\n'
      + '\r\n'
      + 'BE,,p2,2000,2048,0,0,,Failed,7.5,9,8\r\n';
    const pods = parsePods(text);
    expect(pods.map((p) => [p.name, p.qos, p.gpuSpec, p.creationTime, p.scheduledTime])).toEqual([
      ['p1', 'LS', ['T4', '"A10"'], 5, 6],
      ['p2', 'BE', [], 7.5, 8],
    ]);
  });

  it('names the line and the column of a malformed row', () => {
    const cases: [string, RegExp][] = [
      [csv('p,1000,1024,1,1000,,LS,Running,0,10,0', 'q,1000,1024,x,1000,,LS,Running,0,10,0'), /^pods\.csv line 3, column num_gpu: expected a whole number ≥ 0, got "x"$/],
      [csv('q,-5,1024,1,1000,,LS,Running,0,10,0'), /line 2, column cpu_milli: expected a whole number ≥ 0, got "-5"/],
      [csv('q,1000,1e3,1,1000,,LS,Running,0,10,0'), /line 2, column memory_mib: .*got "1e3"/],
      [csv('q,1000,1024,1,1001,,LS,Running,0,10,0'), /line 2, column gpu_milli: 1001 is more than 1000/],
      [csv('q,1000,1024,1,1000,,Gold,Running,0,10,0'), /line 2, column qos: expected one of LS, Guaranteed, Burstable, BE, got "Gold"/],
      [csv('q,1000,1024,1,1000,,LS,Done,0,10,0'), /line 2, column pod_phase: expected one of Running, Succeeded, Failed, Pending, got "Done"/],
      [csv('q,1000,1024,1,1000,,LS,Running,,10,0'), /line 2, column creation_time: expected seconds ≥ 0, got ""/],
      [csv('q,1000,1024,1,1000,,LS,Running,5,10,4'), /line 2, column scheduled_time: 4 is before creation_time 5/],
      [csv('q,1000,1024,1,1000,,LS,Running,0,10,11'), /line 2, column deletion_time: 10 is before scheduled_time 11/],
      [csv('q,1000,1024,1,1000,,LS,Pending,5,4,'), /line 2, column deletion_time: 4 is before creation_time 5/],
      [csv(',1000,1024,1,1000,,LS,Running,0,10,0'), /line 2, column name: empty/],
      [csv('q,1000,1024,1,1000,,LS,Running,0,10'), /^pods\.csv line 2: 10 fields, the header has 11$/],
      [csv('q,1000,1024,1,1000,"T4,LS,Running,0,10,0'), /line 2: unterminated quoted field/],
      [HEADER.replace(',qos', '') + '\n', /line 1, column qos: missing column/],
      [HEADER + ',name\n', /line 1, column name: column appears twice/],
      ['', /line 1: no header/],
    ];
    for (const [text, message] of cases) {
      const e = formatError(() => parsePods(text, 'pods.csv'));
      expect(e.message).toMatch(message);
      expect(e.source).toBe('pods.csv');
    }
    const e = formatError(() => parsePods(csv('ok,1,1,0,0,,LS,Running,0,1,0', 'bad,1,1,0,0,,LS,Running,0,1,z'), 'pods.csv'));
    expect([e.line, e.column]).toEqual([3, 'scheduled_time']);
  });
});

describe('podsToJobs', () => {
  const pods = parsePods(SMALL);

  it('maps a pod to a replay job in our units', () => {
    const jobs = podsToJobs(pods);
    expect(jobs.map((j) => j.id)).toEqual(['p-whole', 'p-frac', 'p-cpu', 'p-pending', 'p-eight']);
    expect(jobs[0]).toEqual({
      id: 'p-whole', owner: hashedOwner('p-whole'), priority: 3, preemptible: false,
      resources: { cpu: 12000, memoryMiB: 16384, gpus: 1 },
      submitAtMs: 0, durationMs: 1_000_000, scheduled: true, traceWaitMs: 0, qos: 'LS', podPhase: 'Running',
    });
    // 460 milli-GPU of 16384 MiB = 7536.64 → 7537
    expect(jobs[1]).toMatchObject({ priority: 1, preemptible: false, resources: { cpu: 6000, memoryMiB: 12288, gpus: 0, gpuMemMiB: 7537 }, submitAtMs: 10_000, durationMs: 98_000, traceWaitMs: 2000 });
    expect(jobs[2]).toMatchObject({ priority: 2, resources: { cpu: 4000, memoryMiB: 8192, gpus: 0 } });
    expect(jobs[2]!.resources).not.toHaveProperty('gpuMemMiB');
    expect(jobs[4]).toMatchObject({ priority: 0, preemptible: true, resources: { gpus: 8 }, durationMs: 300_000, gpuModels: ['V100M16', 'V100M32'] });
    for (const j of jobs.slice(0, 4)) expect(j).not.toHaveProperty('gpuModels');
    for (const j of jobs) expect(ResourcesInputSchema.safeParse(j.resources).success).toBe(true);
  });

  it('preemptible: the best-effort pods by default, every pod with preemptible all', () => {
    expect(podsToJobs(pods).map((j) => j.qos === 'BE')).toEqual([false, false, false, true, true]);
    expect(podsToJobs(pods).map((j) => j.preemptible)).toEqual([false, false, false, true, true]);
    expect(podsToJobs(pods, { preemptible: 'all' }).map((j) => j.preemptible)).toEqual([true, true, true, true, true]);
  });

  it('gpu_spec becomes the job\'s gpuModels when the pod asks GPUs (a CPU-only pod\'s is left out)', () => {
    const jobs = podsToJobs(parsePods(csv('g,1000,1024,1,500,T4,LS,Running,0,10,0', 'c,1000,1024,0,0,T4|P100,LS,Running,0,10,0')));
    expect(jobs.map((j) => j.gpuModels)).toEqual([['T4'], undefined]);
  });

  it('never-scheduled pods: median duration of the scheduled ones and a cancel time, or skipped', () => {
    // scheduled durations 98, 60, 300, 1000 s → nearest-rank median (lower middle) 98 s
    const pending = podsToJobs(pods).find((j) => j.id === 'p-pending')!;
    expect(pending).toMatchObject({ scheduled: false, durationMs: 98_000, traceWaitMs: null, cancelAfterMs: 125_000, preemptible: true, priority: 0 });
    expect(podsToJobs(pods, { unscheduled: 'skip' }).map((j) => j.id)).not.toContain('p-pending');
    expect(podsToJobs(pods.filter((p) => p.scheduledTime === null))[0]!.durationMs).toBe(0);
  });

  it('GPU memory, start time and owner rules are options', () => {
    const jobs = podsToJobs(pods, { gpuMemoryMiB: 32_768, startMs: 1_700_000_000_000, ownerBy: 'qos' });
    expect(jobs[1]!.resources.gpuMemMiB).toBe(15_073);
    expect(jobs[1]!.submitAtMs).toBe(1_700_000_010_000);
    expect(jobs.map((j) => j.owner)).toEqual(['qos-LS', 'qos-Burstable', 'qos-Guaranteed', 'qos-BE', 'qos-BE']);
    expect(podsToJobs(pods, { ownerBy: (p) => p.name.slice(0, 3) })[0]!.owner).toBe('p-w');
    expect(podsToJobs(pods, { owners: 1 }).every((j) => j.owner === 'owner-0')).toBe(true);
    // a tiny share still asks for some memory
    expect(podsToJobs(parsePods(csv('t,1,1,1,1,,LS,Running,0,1,0')))[0]!.resources.gpuMemMiB).toBe(16);
  });

  it('rejects inconsistent options, naming the values', () => {
    expect(() => podsToJobs(pods, { gpuMemoryMiB: 0 })).toThrow(/gpuMemoryMiB must be a whole number > 0, not 0/);
    expect(() => podsToJobs(pods, { owners: 0 })).toThrow(/owners must be a whole number ≥ 1, not 0/);
    expect(() => podsToJobs(pods, { owners: 4, ownerBy: 'qos' })).toThrow(/owners \(4\) applies to ownerBy 'hash' only, not 'qos'/);
  });

  it('sorts by submit time, keeping the file order of ties', () => {
    const jobs = podsToJobs(parsePods(csv('b,1,1,0,0,,LS,Running,9,10,9', 'c,1,1,0,0,,LS,Running,3,10,3', 'a,1,1,0,0,,LS,Running,3,10,3')));
    expect(jobs.map((j) => j.id)).toEqual(['c', 'a', 'b']);
  });

  it('hashes owners the same on every run (FNV-1a with the murmur3 finaliser)', () => {
    expect(stableHash('openb-pod-0000')).toBe(2795869698);
    expect(stableHash('a')).toBe(444641715);
    expect(hashedOwner('openb-pod-0001')).toBe('owner-2');
    expect(hashedOwner('openb-pod-0001', 5)).toBe(`owner-${3337283722 % 5}`);
    // sequential names spread without a round-robin pattern
    const owners = Array.from({ length: 16 }, (_, i) => hashedOwner(`openb-pod-${String(i).padStart(4, '0')}`));
    expect(new Set(owners).size).toBeGreaterThan(4);
    expect(owners.slice(0, 8)).not.toEqual(owners.slice(8));
  });
});

describe('parseNodes', () => {
  it('reads sn, cpu_milli, memory_mib, gpu and model (empty: CPU-only)', () => {
    const nodes = parseNodes('sn,cpu_milli,memory_mib,gpu,model\nn0,32000,262144,0,\nn1,64000,262144,2,P100\nn2,96000,786432,8,G2\n');
    expect(nodes).toEqual([
      { sn: 'n0', cpuMilli: 32000, memoryMiB: 262144, gpus: 0, model: null },
      { sn: 'n1', cpuMilli: 64000, memoryMiB: 262144, gpus: 2, model: 'P100' },
      { sn: 'n2', cpuMilli: 96000, memoryMiB: 786432, gpus: 8, model: 'G2' },
    ]);
    expect(nodes.map((n) => gpuMemoryOfModel(n.model))).toEqual([16_384, 16_384, 16_384]);
    expect(gpuMemoryOfModel('V100M32')).toBe(32_768);
    expect(gpuMemoryOfModel('G3', 40_960)).toBe(40_960);
  });

  it('names the line and the column of a malformed row', () => {
    expect(formatError(() => parseNodes('sn,cpu_milli,memory_mib,gpu,model\nn0,32000,262144,two,T4\n', 'nodes.csv')).message)
      .toBe('nodes.csv line 2, column gpu: expected a whole number ≥ 0, got "two"');
    expect(formatError(() => parseNodes('sn,cpu,memory_mib,gpu,model\n')).message).toMatch(/^node list line 1, column cpu_milli: missing column/);
  });
});

// The trace itself: research-use data, read where it lies (ARBITER_TRACE: its directory or the pod list CSV).
const tracePath = process.env.ARBITER_TRACE ?? fileURLToPath(new URL('../../../shared/traces', import.meta.url));
const files = findTraceFiles(tracePath);
const traceTitle = files
  ? 'the Alibaba GPU trace v2023 (openb)'
  : `the Alibaba GPU trace v2023 (openb) — SKIPPED: no openb_pod_list_default.csv at ${tracePath} (set ARBITER_TRACE to its directory or file)`;

describe.skipIf(!files)(traceTitle, () => {
  // (how fast it parses is measured by the simulate benchmark, not asserted here: tests must not depend on a quiet machine)
  it('parses the 8,152 pods and matches the published profile', () => {
    const text = readFileSync(files!.pods, 'utf8');
    const pods: TracePod[] = parsePods(text);
    expect(podsToJobs(pods)).toHaveLength(8152);
    expect(pods).toHaveLength(8152);
    const count = (key: (p: TracePod) => unknown) => {
      const m: Record<string, number> = {};
      for (const p of pods) m[String(key(p))] = (m[String(key(p))] ?? 0) + 1;
      return m;
    };
    expect(count((p) => p.qos)).toEqual({ LS: 4647, BE: 3398, Burstable: 100, Guaranteed: 7 });
    expect(count((p) => p.numGpu)).toEqual({ 0: 1088, 1: 6989, 2: 16, 4: 15, 8: 44 });
    expect(pods.filter((p) => p.scheduledTime === null)).toHaveLength(897);
    expect(pods.filter((p) => p.scheduledTime === null).every((p) => p.podPhase === 'Pending')).toBe(true);
  });

  it('maps it to jobs: fractional pods, median 616 s for never-scheduled ones, 8 balanced owners', () => {
    const pods = readPods(files!.pods);
    const jobs = podsToJobs(pods);
    expect(jobs).toHaveLength(8152);
    expect(jobs.filter((j) => j.resources.gpuMemMiB !== undefined)).toHaveLength(3078);
    expect(new Set(jobs.filter((j) => !j.scheduled).map((j) => j.durationMs))).toEqual(new Set([616_000]));
    for (let i = 1; i < jobs.length; i++) expect(jobs[i]!.submitAtMs).toBeGreaterThanOrEqual(jobs[i - 1]!.submitAtMs);
    const perOwner = new Map<string, number>();
    for (const j of jobs) perOwner.set(j.owner, (perOwner.get(j.owner) ?? 0) + 1);
    expect(perOwner.size).toBe(8);
    for (const n of perOwner.values()) expect(n).toBeGreaterThan(8152 / 8 * 0.85);
    expect(podsToJobs(pods, { unscheduled: 'skip' })).toHaveLength(8152 - 897);
    // the same owners on every run
    expect(podsToJobs(pods).map((j) => j.owner)).toEqual(jobs.map((j) => j.owner));
  });

  it('reads the node lists', () => {
    expect(files!.gpuNodes && files!.allNodes).toBeTruthy();
    const gpuNodes = readNodes(files!.gpuNodes!);
    const all = readNodes(files!.allNodes!);
    expect(gpuNodes).toHaveLength(1213);
    expect(gpuNodes.every((n) => n.gpus > 0 && n.model !== null)).toBe(true);
    expect(all).toHaveLength(1523);
    expect(all.filter((n) => n.model === null)).toHaveLength(310);
    // a pod list file as the path: the node lists are found beside it
    expect(findTraceFiles(files!.pods)).toEqual(files);
  });
});

describe('findTraceFiles', () => {
  it('is null where there is no trace', () => {
    expect(findTraceFiles('/nonexistent/arbiter-trace')).toBeNull();
    expect(findTraceFiles(fileURLToPath(new URL('.', import.meta.url)))).toBeNull();
  });
});
