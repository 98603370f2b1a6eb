/**
 * A compact, deterministic record of what happened in a run: one line per send, delivery,
 * drop, disk write, sync, crash, restart, network change and completion (ticks are implied by
 * the schedule and left out). Every line feeds a SHA-256 hash, so a test can assert that the
 * same seed gives the same run byte for byte without keeping the lines; keeping them is
 * optional, for debugging a failure.
 *
 * Lines (times in ms, nodes as `addrKey` prints them):
 *   <t> s<id> <from>><to> <msg>    a send; to a leader: `l<shard>=<node>` (`?` when none is known)
 *   <t> D<id>                      the network will deliver it twice
 *   <t> d<id>                      a delivery
 *   <t> x<id> <reason>             a drop (DropReason)
 *   <t> p <node> <record>          a persist (unsynced)
 *   <t> y <node> <count>           a sync: the first <count> records are durable
 *   <t> S|R <node> <count>         a start / restart from <count> durable records
 *   <t> C <node> lost <count>      a crash, and the unsynced records it lost
 *   <t> i <client> <seq> <op>      an operation issued
 *   <t> c <client> <seq> <status>  an operation finished (ok: with its output)
 *   <t> N <what>                   a network change or a new master view
 */
import { createHash, type Hash } from 'node:crypto';

/** off: nothing (fastest, for sweeps); hash: the hash only; lines: the hash and every line. */
export type TraceMode = 'off' | 'hash' | 'lines';

export class Trace {
  private readonly hasher: Hash | null;
  private readonly kept: string[] | null;

  constructor(readonly mode: TraceMode) {
    this.hasher = mode === 'off' ? null : createHash('sha256');
    this.kept = mode === 'lines' ? [] : null;
  }

  /** Callers test this before building a line, so a disabled trace costs nothing. */
  get enabled(): boolean {
    return this.hasher !== null;
  }

  record(line: string): void {
    this.hasher?.update(line + '\n');
    this.kept?.push(line);
  }

  /** Hex SHA-256 of every line so far ('' when tracing is off). */
  get hash(): string {
    return this.hasher === null ? '' : this.hasher.copy().digest('hex');
  }

  /** The kept lines (empty unless the mode is 'lines'). */
  get lines(): readonly string[] {
    return this.kept ?? [];
  }
}
