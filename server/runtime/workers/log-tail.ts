/**
 * The last lines of a worker's log file, read from its end on demand: at most `maxBytes` are read and held, however
 * long the file (or a line) is. A line cut by that limit is left out, unless it is all there is: then its last
 * `maxBytes` bytes come back as the one line.
 */
import { open } from 'node:fs/promises';

const CHUNK = 64 * 1024;
const NL = 0x0a;

/** The last `tail` lines of `file` (stdout and stderr as they were written); [] when there is no such file. */
export async function tailLines(file: string, tail: number, maxBytes: number): Promise<string[]> {
  if (tail <= 0 || maxBytes <= 0) return [];
  let fh;
  try {
    fh = await open(file, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  try {
    const size = (await fh.stat()).size;
    const chunks: Buffer[] = [];
    let pos = size;
    let read = 0;
    let newlines = 0;
    let endsWithNewline: boolean | null = null;
    // a final newline ends the last line: `tail` lines need `tail` newlines before it
    while (pos > 0 && read < maxBytes && newlines - (endsWithNewline ? 1 : 0) < tail) {
      const n = Math.min(CHUNK, pos, maxBytes - read);
      const buf = Buffer.allocUnsafe(n);
      const { bytesRead } = await fh.read(buf, 0, n, pos - n);
      if (bytesRead < n) break; // truncated under us: take what there is
      pos -= n;
      read += n;
      chunks.unshift(buf);
      if (endsWithNewline === null) endsWithNewline = buf[n - 1] === NL;
      for (let i = buf.indexOf(NL); i >= 0; i = buf.indexOf(NL, i + 1)) newlines++;
    }
    let text = Buffer.concat(chunks).toString('utf8');
    if (text.endsWith('\n')) text = text.slice(0, -1);
    if (text === '' && read === 0) return [];
    const lines = text.split('\n');
    // the first line starts before what was read: cut, left out unless it is the only one
    if (pos > 0 && lines.length > 1) lines.shift();
    return lines.slice(-tail);
  } finally {
    await fh.close();
  }
}
