/**
 * Run by test/integration/emfile.test.ts under `prlimit --nofile`: takes every file descriptor left, then spawns as
 * the GPU source does — one short run (runCommand) and one looping child (LineChild) — and prints what each did as
 * one JSON line. A spawn that fails for want of descriptors must be an error the caller sees, not an exception that
 * ends the process.
 */
import { closeSync, openSync } from 'node:fs';
import { systemClock } from '../../server/clock.ts';
import { LineChild, type ChildEvent } from '../../server/monitor/sources/gpu/child.ts';
import { runCommand } from '../../server/monitor/sources/gpu/run.ts';

const held: number[] = [];
try {
  for (;;) held.push(openSync('/dev/null', 'r'));
} catch {
  // out of descriptors
}
const out: { run?: string; events: ChildEvent[] } = { events: [] };
try {
  await runCommand('true', [], { timeoutMs: 2000, clock: systemClock });
  out.run = 'ran';
} catch (err) {
  out.run = `rejected: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`;
}
const child = new LineChild({
  label: 'loop', command: 'true', args: [], clock: systemClock, onLine: () => true, backoff: { initialMs: 60_000, maxMs: 60_000 },
  onEvent: (e) => out.events.push(e),
});
child.start();
await new Promise((r) => setTimeout(r, 200));
child.stop();
for (const fd of held) closeSync(fd);
process.stdout.write(`${JSON.stringify(out)}\n`);
