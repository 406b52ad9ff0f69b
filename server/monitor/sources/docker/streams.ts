/**
 * Stream mode: one long `GET /containers/{id}/stats?stream=true` per running container, keeping only the latest
 * frame. A sample reads the latest frames instead of asking each container again (Docker sends a frame every
 * ~1 s, Podman every 5 s). A stream that ends is opened again at the next `ensure`.
 */
import type { Readable } from 'node:stream';
import { JsonLines } from './events.ts';
import { parseStatsBody, readingOf, type StatsReading } from './stats.ts';

interface Entry {
  stream: Readable | null;
  latest: StatsReading | null;
  closed: boolean;
}

export class StatsStreams {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly open: (id: string) => Promise<Readable>,
    private readonly now: () => number,
    private readonly onError: (id: string, err: unknown) => void = () => {},
  ) {}

  get size(): number {
    return this.entries.size;
  }

  /** Open the stream of a container unless it is open (or opening). */
  ensure(id: string): void {
    if (this.entries.has(id)) return;
    const e: Entry = { stream: null, latest: null, closed: false };
    this.entries.set(id, e);
    this.open(id).then(
      (stream) => {
        if (e.closed) {
          stream.destroy();
          return;
        }
        e.stream = stream;
        const lines = new JsonLines((v) => {
          const body = parseStatsBody(v);
          if (body) e.latest = readingOf(body, this.now());
        });
        stream.on('data', (chunk: Buffer) => lines.push(chunk));
        const done = () => {
          if (this.entries.get(id) === e) this.entries.delete(id);
        };
        stream.on('end', done);
        stream.on('close', done);
        stream.on('error', (err) => {
          done();
          if (!e.closed) this.onError(id, err);
        });
      },
      (err: unknown) => {
        if (this.entries.get(id) === e) this.entries.delete(id);
        if (!e.closed) this.onError(id, err);
      },
    );
  }

  /** The latest frame of a container, or null before its first one. */
  latest(id: string): StatsReading | null {
    return this.entries.get(id)?.latest ?? null;
  }

  close(id: string): void {
    const e = this.entries.get(id);
    if (!e) return;
    e.closed = true;
    e.stream?.destroy();
    this.entries.delete(id);
  }

  /** Close every stream whose container is not in `ids`. */
  retain(ids: Set<string>): void {
    for (const id of [...this.entries.keys()]) if (!ids.has(id)) this.close(id);
  }

  closeAll(): void {
    for (const id of [...this.entries.keys()]) this.close(id);
  }
}
