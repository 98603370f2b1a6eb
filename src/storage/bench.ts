/**
 * Write-ahead log throughput: appends+syncs per second with fsync on and off, one record per
 * sync (a replica persisting each Accept) and with many concurrent syncs sharing a round.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Command } from '../protocol/common/kv.js';
import { MP_RECORDS, type MultiPaxosRecord } from '../protocol/multipaxos/messages.js';
import { openWal } from './wal.js';

export interface WalBenchResult {
  readonly fsync: boolean;
  readonly concurrency: number;
  readonly syncsPerSec: number;
  readonly syncRounds: number;
}

function acceptRecord(slot: number, commands: number): MultiPaxosRecord {
  const value: Command[] = Array.from({ length: commands }, (_, i) => ({
    client: `client-${i % 8}`,
    seq: slot * commands + i,
    op: 'put',
    key: `key-${i}`,
    value: `value-${slot}-${i}`,
    expect: null,
  }));
  return { type: 'accept', ballot: 17, slot, value, committedUpTo: slot };
}

async function run(fsync: boolean, concurrency: number, budgetMs: number): Promise<WalBenchResult> {
  const dir = await mkdtemp(path.join(tmpdir(), 'mdlin-walbench-'));
  try {
    const { wal } = await openWal(path.join(dir, 'data'), MP_RECORDS, { fsync });
    let slot = 0;
    const start = performance.now();
    while (performance.now() - start < budgetMs) {
      const syncs: Promise<void>[] = [];
      for (let i = 0; i < concurrency; i++) {
        wal.append(acceptRecord(slot++, 10));
        syncs.push(wal.sync());
      }
      await Promise.all(syncs);
    }
    const elapsedMs = performance.now() - start;
    const result = { fsync, concurrency, syncsPerSec: (slot * 1000) / elapsedMs, syncRounds: wal.syncRounds };
    await wal.close();
    return result;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Prints and returns append+sync rates (records of 10 commands) in a temporary directory. */
export async function benchWal(budgetMs = 1000): Promise<WalBenchResult[]> {
  const results: WalBenchResult[] = [];
  for (const fsync of [true, false]) {
    for (const concurrency of [1, 64]) {
      const r = await run(fsync, concurrency, budgetMs);
      results.push(r);
      console.log(
        `wal fsync=${fsync ? 'on ' : 'off'} concurrent syncs=${String(concurrency).padStart(2)}  ` +
          `${r.syncsPerSec.toFixed(0).padStart(7)} appends+syncs/s  (${r.syncRounds} write rounds)`,
      );
    }
  }
  return results;
}
