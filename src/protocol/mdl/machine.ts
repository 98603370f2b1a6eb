/**
 * The replicated state of an MDL shard, driven by chosen log slots (identical on every replica):
 * the key-value map and session table, the committed-but-not-ordered operations, and the
 * timestamps of recently ordered ones (so any leader, after any failover, can answer a
 * coordination request about them).
 *
 * Execution order is timestamp order. In normal operation a leader appends operations with
 * increasing timestamps, so slot order and timestamp order agree and items execute as their
 * slots do. A recovering leader may have to place operations among ones an earlier leader
 * appended (replica.ts explains when and why); it marks the first slot its recovery found empty
 * with `hold`, and from there on `order` items wait in `buffer` until its `recover` slot, which
 * adds the recovered operations and releases everything in timestamp order (ties by client, seq).
 *
 * Stale items. Paxos may choose, long after its leader lost office, a value that leader proposed
 * and a quorum member still holds: an `order` for an operation a newer leader has since ordered,
 * placed again, or failed, or a `fail` for one a newer leader took on. Such items change nothing:
 * - an `order` applies only to an operation not yet ordered, executed or failed, whose command is
 *   known, and whose timestamp lies above everything executed (a stale fast-path order can carry
 *   an old timestamp; its successor was never told it, since a fast-path operation's timestamp is
 *   revealed only once its order item is chosen);
 * - a `fail` applies only to an operation not yet ordered or executed, and not decided by a leader
 *   older than the one that committed it (that leader may have ordered it and told its successor).
 */
import { assert, AssertionError } from '../common/assert.js';
import { clientAddr } from '../common/core.js';
import { type Command, KvStore, type OpOutput, SessionTable } from '../common/kv.js';
import type { Reply, ReplyStatus } from '../common/messages.js';
import type { Outbox } from '../common/outbox.js';
import type { StateMachine } from '../common/paxos.js';
import type { MdlItem, MdlRecord, MdlState, MdlWire } from './messages.js';

export interface MdlMachineLimits {
  readonly sessionResultsPerClientMax: number;
  readonly sessionClientsMax: number;
  /** Timestamps of executed operations kept for late coordination requests. */
  readonly recentTsMax: number;
}

export interface Committed {
  readonly cmd: Command;
  readonly predShard: number;
  readonly predSeq: number;
  /** The ballot of the leader whose pending item committed it. */
  readonly ballot: number;
}

/** What the leader logic learns from execution. */
export interface MdlMachineEvents {
  /** A pending item was chosen: the operation will execute unless it fails. */
  committed(id: string, leading: boolean): void;
  /** An operation got its final place (executed, or buffered behind a hold). */
  ordered(id: string, ts: number): void;
  /** An operation definitely failed. */
  failed(id: string): void;
  /** A `recover` slot executed. */
  recovered(): void;
  leadership(serving: boolean): void;
}

/** A `hold` or `recover` marker decided at `ballot`. */
export function marker(kind: 'hold' | 'recover', ballot: number): MdlItem {
  return { kind, client: '', seq: 0, ts: 0, predShard: -1, predSeq: -1, cmd: null, ballot };
}

export function opId(client: string, seq: number): string {
  return `${client}\u0000${seq}`;
}

function byTs(a: MdlItem, b: MdlItem): number {
  return a.ts - b.ts || (a.client < b.client ? -1 : a.client > b.client ? 1 : a.seq - b.seq);
}

export class MdlMachine implements StateMachine<MdlItem[], MdlState> {
  readonly kv = new KvStore();
  readonly sessions: SessionTable;
  readonly committed = new Map<string, Committed>();
  holding = false;
  private buffer: MdlItem[] = [];
  private readonly bufferedTs = new Map<string, number>();
  /** The largest timestamp of any order item applied (executed or buffered). */
  maxTs = 0;
  /** The largest timestamp executed: a recovered operation is placed after it. */
  executedTs = 0;
  private readonly recentTs = new Map<string, number>();

  constructor(
    private readonly replica: number,
    /** A one-replica shard: its own disk is the quorum. */
    private readonly solo: boolean,
    private readonly limits: MdlMachineLimits,
    private readonly out: Outbox<MdlWire, MdlRecord>,
    private readonly events: MdlMachineEvents,
  ) {
    this.sessions = new SessionTable(limits.sessionResultsPerClientMax, limits.sessionClientsMax);
  }

  noop(firstGap: boolean): MdlItem[] {
    return firstGap ? [marker('hold', 0)] : [];
  }

  count(value: MdlItem[]): number {
    return value.length;
  }

  onChosen(): void {}

  onLeadership(serving: boolean): void {
    this.events.leadership(serving);
  }

  /** The timestamp of an ordered operation still remembered here, if any. */
  tsOf(id: string): number | undefined {
    return this.recentTs.get(id) ?? this.bufferedTs.get(id);
  }

  isFailed(client: string, seq: number): boolean {
    return this.sessions.lookup(client, seq).kind === 'failed';
  }

  isDone(client: string, seq: number): boolean {
    const k = this.sessions.lookup(client, seq).kind;
    return k === 'done' || k === 'stale';
  }

  apply(_slot: number, items: MdlItem[], leading: boolean): void {
    if (items[0]?.kind === 'recover') {
      for (let i = 1; i < items.length; i++) this.applyItem(items[i] as MdlItem, leading, true);
      this.release(leading);
      this.events.recovered();
      return;
    }
    for (const item of items) this.applyItem(item, leading, this.holding);
  }

  private applyItem(item: MdlItem, leading: boolean, buffering: boolean): void {
    const id = opId(item.client, item.seq);
    switch (item.kind) {
      case 'pending': {
        assert(item.cmd !== null, 'a pending item without its command');
        if (this.committed.has(id) || this.sessions.lookup(item.client, item.seq).kind !== 'new') return;
        if (this.tsOf(id) !== undefined) return;
        this.committed.set(id, { cmd: item.cmd, predShard: item.predShard, predSeq: item.predSeq, ballot: item.ballot });
        this.events.committed(id, leading);
        return;
      }
      case 'order': {
        const cmd = item.cmd ?? this.committed.get(id)?.cmd ?? null;
        if (cmd === null || item.ts <= this.executedTs || this.bufferedTs.has(id)) return;
        if (!this.orderable(item.client, item.seq)) return;
        if (item.ts > this.maxTs) this.maxTs = item.ts;
        this.committed.delete(id);
        if (buffering) {
          // Ordered now, executed at the release: it leaves the committed set (a later recovery
          // must not place it again) and takes its command along.
          this.buffer.push({ ...item, cmd });
          this.bufferedTs.set(id, item.ts);
          this.events.ordered(id, item.ts);
        } else {
          this.execute({ ...item, cmd }, leading);
        }
        return;
      }
      case 'fail': {
        if (this.bufferedTs.has(id) || this.sessions.lookup(item.client, item.seq).kind !== 'new') return;
        const c = this.committed.get(id);
        if (c !== undefined && item.ballot < c.ballot) return;
        this.committed.delete(id);
        this.sessions.recordFailed(item.client, item.seq);
        if (leading) this.reply(item.client, item.seq, 'failed', null);
        this.events.failed(id);
        return;
      }
      case 'hold':
        this.holding = true;
        this.forgetUnorderable();
        return;
      case 'recover':
        assert(false, 'a recover marker inside a slot');
    }
  }

  /**
   * Drops committed operations that can no longer be ordered: an order item applies only to an
   * operation its session table still calls new, and one that executed, failed or fell out of the
   * table's window never becomes new again. A recovery must not wait for them.
   */
  private forgetUnorderable(): void {
    for (const [id, c] of this.committed) if (!this.orderable(c.cmd.client, c.cmd.seq)) this.committed.delete(id);
  }

  /** Whether an order item for this operation could still execute it. */
  orderable(client: string, seq: number): boolean {
    return this.sessions.lookup(client, seq).kind === 'new';
  }

  /** Executes everything buffered since the hold, in timestamp order. */
  private release(leading: boolean): void {
    const items = this.buffer.sort(byTs);
    this.buffer = [];
    this.bufferedTs.clear();
    this.holding = false;
    for (const item of items) this.execute(item, leading);
  }

  /** Executes an ordered operation (its item carries the command). */
  private execute(item: MdlItem, leading: boolean): void {
    const id = opId(item.client, item.seq);
    const cmd = item.cmd;
    // Checked on every execution, so the messages are built only when a check fails.
    if (cmd === null) throw new AssertionError(`order item for ${item.client}#${item.seq} executes without its command`);
    if (this.sessions.lookup(item.client, item.seq).kind !== 'new') throw new AssertionError(`${item.client}#${item.seq} executes twice`);
    if (item.ts < this.executedTs) throw new AssertionError(`timestamp ${item.ts} executes after ${this.executedTs}`);
    const output = this.kv.apply(cmd);
    this.sessions.record(item.client, item.seq, output);
    this.executedTs = item.ts;
    this.rememberTs(id, item.ts);
    if (leading) this.reply(item.client, item.seq, 'ok', output);
    this.events.ordered(id, item.ts);
  }

  private rememberTs(id: string, ts: number): void {
    this.recentTs.set(id, ts);
    if (this.recentTs.size > this.limits.recentTsMax) {
      const oldest = this.recentTs.keys().next();
      if (oldest.done !== true) this.recentTs.delete(oldest.value);
    }
  }

  reply(client: string, seq: number, status: ReplyStatus, output: OpOutput, leader = this.replica): void {
    const msg: Reply = { type: 'reply', seq, status, output, leader };
    this.out.sendChosen(clientAddr(client), msg, this.solo);
  }

  snapshot(): MdlState {
    const recentTs: MdlState['recentTs'] = [];
    for (const [id, ts] of this.recentTs) {
      const cut = id.lastIndexOf('\u0000');
      recentTs.push({ client: id.slice(0, cut), seq: Number(id.slice(cut + 1)), ts });
    }
    return {
      kv: this.kv.entries().map(([key, value]) => ({ key, value })),
      sessions: this.sessions.snapshot(),
      committed: [...this.committed.values()].map((c) => ({ cmd: c.cmd, predShard: c.predShard, predSeq: c.predSeq, ballot: c.ballot })),
      holding: this.holding,
      buffer: this.buffer.map((i) => ({ ...i })),
      maxTs: this.maxTs,
      executedTs: this.executedTs,
      recentTs,
    };
  }

  restore(s: MdlState): void {
    this.kv.load(s.kv.map((e) => [e.key, e.value] as const));
    this.sessions.load(s.sessions);
    this.committed.clear();
    for (const c of s.committed) this.committed.set(opId(c.cmd.client, c.cmd.seq), c);
    this.holding = s.holding;
    this.buffer = s.buffer.map((i) => ({ ...i }));
    this.bufferedTs.clear();
    for (const i of this.buffer) this.bufferedTs.set(opId(i.client, i.seq), i.ts);
    this.maxTs = s.maxTs;
    this.executedTs = s.executedTs;
    this.recentTs.clear();
    for (const r of s.recentTs) this.recentTs.set(opId(r.client, r.seq), r.ts);
  }

  checkInvariants(): void {
    assert(this.executedTs <= this.maxTs, 'executed timestamp above the largest ordered one');
    assert(this.holding || this.buffer.length === 0, 'buffered items without a hold');
    for (const id of this.committed.keys()) assert(!this.bufferedTs.has(id), `${id} is both committed-unordered and buffered`);
  }
}
