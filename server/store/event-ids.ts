/**
 * Where the hub keeps its event-id high-water mark (`IdStore`): a small file in the data dir (`FileIdStore`,
 * written atomically: temp file, fsync, rename) or memory (`MemoryIdStore`, for tests). `DbIdStore`
 * (event-store.ts) keeps it in the database instead.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import type { IdStore } from '../push/hub.ts';

export class FileIdStore implements IdStore {
  constructor(private readonly path: string) {}
  load(): number {
    try {
      const n = Number(readFileSync(this.path, 'utf8').trim());
      return Number.isSafeInteger(n) && n > 0 ? n : 1;
    } catch {
      return 1;
    }
  }
  save(next: number): void {
    mkdirSync(dirname(this.path), { recursive: true });
    const tmp = `${this.path}.tmp`;
    const fd = openSync(tmp, 'w', 0o600);
    try {
      writeSync(fd, `${next}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.path);
  }
}

export class MemoryIdStore implements IdStore {
  constructor(public next = 1) {}
  load(): number {
    return this.next;
  }
  save(next: number): void {
    this.next = next;
  }
}
