/**
 * gpu-parse: what the gpu source spends parsing, per sample.
 *   CSV  one `--query-gpu` sample of 8 GPUs (8 lines of the planned fields), built from the H100 capture's row
 *        (the capture's CSV with header and units, turned into noheader,nounits as the stand-in does); target ≤ 0.2 ms
 *   XML  one `-q -x` parse of the largest document (rtx-4000-sff-ada-v13, 66 KB); runs every 60 s (10 s under MIG)
 * Figures are the median of many runs, after a warm-up. `node --import tsx --import ./bench/compiled.ts bench/gpu-parse.ts` or from bench/run.ts.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseGpuRow } from '../server/monitor/sources/gpu/csv.ts';
import { parseHelpQueryGpu, planFields } from '../server/monitor/sources/gpu/fields.ts';
import { parseNvidiaSmiXml } from '../server/monitor/sources/gpu/xml.ts';
import type { BenchOptions, BenchResult } from './lib.ts';

const FIXTURES = fileURLToPath(new URL('../test/fixtures/nvidia-smi/', import.meta.url));
const STAND_IN = fileURLToPath(new URL('../test/stand-ins/nvidia-smi', import.meta.url));
const CAPTURE = 'nvidia_gpu_exporter-h100-mig-590.48.01-capture.txt';
const LARGEST_XML = 'telegraf-rtx-4000-sff-ada-v13-595.84.xml';
const TARGET_CSV_US = 200;

function standIn(args: string[]): string {
  return execFileSync(STAND_IN, args, { env: { ...process.env, NVIDIA_SMI_FIXTURE: FIXTURES + CAPTURE }, encoding: 'utf8' });
}

/** Median µs of `fn` over `runs` timed batches of `batch` calls each. */
function medianMicros(fn: () => void, runs: number, batch: number): number {
  for (let i = 0; i < Math.max(50, runs / 10); i++) fn();
  const times: number[] = [];
  for (let r = 0; r < runs; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < batch; i++) fn();
    times.push(Number(process.hrtime.bigint() - t0) / 1000 / batch);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

export async function run(opts: BenchOptions = { quick: false }): Promise<BenchResult> {
  const plan = planFields(parseHelpQueryGpu(standIn(['--help-query-gpu'])));
  const row = standIn([`--query-gpu=${plan.fields.join(',')}`, '--format=csv,noheader,nounits']).trim();
  const uuidCol = plan.columns.uuid![0]!;
  const indexCol = plan.columns.index![0]!;
  // 8 GPUs: the captured row with its index and uuid changed
  const lines = Array.from({ length: 8 }, (_, i) => {
    const cells = row.split(', ');
    cells[indexCol] = String(i);
    cells[uuidCol] = `GPU-0000000${i}-0000-0000-0000-000000000000`;
    return cells.join(', ');
  });
  const parseSample = () => {
    for (const l of lines) if (!parseGpuRow(l, plan)) throw new Error('bench row did not parse');
  };
  const xml = readFileSync(FIXTURES + LARGEST_XML, 'utf8');
  const parseXml = () => {
    if (parseNvidiaSmiXml(xml).gpus.length !== 1) throw new Error('bench XML did not parse');
  };

  const csvUs = medianMicros(parseSample, opts.quick ? 200 : 2000, 10);
  const xmlUs = medianMicros(parseXml, opts.quick ? 30 : 300, 1);
  const markdown = [
    '## gpu-parse',
    '',
    `Parse cost of the gpu source per sample (median; ${plan.fields.length} --query-gpu fields as planned from the H100 capture's --help-query-gpu).`,
    '',
    '| what | per parse | target |',
    '|---|---:|---:|',
    `| --query-gpu CSV, one sample of 8 GPUs (8 lines) | ${csvUs.toFixed(1)} µs | ≤ ${TARGET_CSV_US} µs ${csvUs <= TARGET_CSV_US ? '✓' : '✗'} |`,
    `| -q -x XML, ${LARGEST_XML} (${(xml.length / 1024).toFixed(0)} KB, 1 GPU) | ${xmlUs.toFixed(0)} µs | once per 60 s (10 s under MIG) |`,
    '',
  ].join('\n');
  return { name: 'gpu-parse', markdown, data: { csvUs, xmlUs, fields: plan.fields.length, xmlBytes: xml.length } };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const r = await run({ quick: process.argv.includes('--quick') });
  process.stdout.write(`${r.markdown}\n`);
}
