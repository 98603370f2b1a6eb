/**
 * A replica's simulated disk: an append-only list of records of which a prefix is synced.
 * Appends land unsynced (in the page cache, so to speak); a sync makes everything appended so
 * far durable; a crash throws away the unsynced tail, or keeps a prefix of it when the host
 * wants to model writes the OS flushed on its own.
 */
import { assert } from '../protocol/common/assert.js';

export class SimDisk<R> {
  private readonly records: R[] = [];
  private syncedCount = 0;

  /** Records appended so far, synced or not. */
  get length(): number {
    return this.records.length;
  }

  /** How many records (a prefix) survive a crash. */
  get synced(): number {
    return this.syncedCount;
  }

  get unsynced(): number {
    return this.records.length - this.syncedCount;
  }

  append(record: R): void {
    this.records.push(record);
  }

  /** Makes the first `count` records durable (a sync issued when the disk held `count`). */
  syncTo(count: number): void {
    assert(count <= this.records.length, `sync past the end of the disk (${count} > ${this.records.length})`);
    if (count > this.syncedCount) this.syncedCount = count;
  }

  /** Loses every unsynced record except the first `keepUnsynced`; returns how many were lost. */
  crash(keepUnsynced: number): number {
    assert(keepUnsynced >= 0 && keepUnsynced <= this.unsynced, 'crash keeps more than was written');
    const survivors = this.syncedCount + keepUnsynced;
    const lost = this.records.length - survivors;
    this.records.length = survivors;
    this.syncedCount = survivors;
    return lost;
  }

  /** A copy of the durable records, for a restarting core. */
  durable(): R[] {
    return this.records.slice(0, this.syncedCount);
  }
}
