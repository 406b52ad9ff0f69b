/**
 * Where the nvidia-smi captures are (`test/fixtures/nvidia-smi/`, copied byte for byte with their SOURCES.md and licence notices) and how
 * to ask the stand-in for one answer synchronously (unit tests of the parsers).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const FIXTURES = fileURLToPath(new URL('../fixtures/nvidia-smi/', import.meta.url));
export const STAND_IN = fileURLToPath(new URL('./nvidia-smi', import.meta.url));

export const CAPTURES = {
  h100: 'nvidia_gpu_exporter-h100-mig-590.48.01-capture.txt',
  l40s: 'nvidia_gpu_exporter-l40s-595.80-capture.txt',
  windows: 'nvidia_gpu_exporter-windows-rtx-2080-super-610.62-capture.txt',
} as const;

export function fixture(name: string): string {
  return FIXTURES + name;
}

export function readFixture(name: string): string {
  return readFileSync(fixture(name), 'utf8');
}

/** The stand-in's stdout for `args` on fixture `name` (exit status ignored). */
export function standIn(name: string, args: string[], env: Record<string, string> = {}): string {
  try {
    return execFileSync(STAND_IN, args, { env: { ...process.env, NVIDIA_SMI_FIXTURE: fixture(name), ...env }, encoding: 'utf8' });
  } catch (e) {
    return String((e as { stdout?: string }).stdout ?? '');
  }
}
