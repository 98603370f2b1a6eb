/**
 * A toy protocol to exercise the simulator without depending on any real protocol: a
 * primary-backup log. The replica that claims leadership appends each client write to its log
 * (persist, then send Replicate to the others), followers persist and acknowledge, and the
 * leader answers the client once a majority holds the entry. Replicas can also ping their peers
 * every few ticks (to observe the network), and a test can script raw outputs for the next ticks
 * (to observe the disk).
 */
import { assert } from '../../src/protocol/common/assert.js';
import type {
  ClientAddr,
  ClientCore,
  Completion,
  Output,
  ReplicaAddr,
  ReplicaCore,
  ReplicaStatus,
  Sender,
} from '../../src/protocol/common/core.js';
import { majority, replicaAddr } from '../../src/protocol/common/core.js';
import type { OpInput, OpName } from '../../src/protocol/common/kv.js';

export type ToyMsg =
  | { type: 'write'; seq: number; value: string }
  | { type: 'writeReply'; seq: number; ok: boolean }
  | { type: 'replicate'; index: number; value: string }
  | { type: 'replicateAck'; index: number }
  | { type: 'ping'; n: number };

export interface ToyRecord {
  index: number;
  value: string;
}

type ToyOutput = Output<ToyMsg, ToyRecord>;

export interface ToyOptions {
  readonly replicas: number;
  /** Ping every peer every this many ticks (0: never). */
  readonly pingEveryTicks?: number;
  /** Pings sent per round. */
  readonly pingsPerRound?: number;
  /** This replica claims leadership (ballot 1) whenever it is built, at start and on restart. */
  readonly leader?: number;
}

/** A value that breaks the replica's invariant, to test that a failed assertion surfaces. */
export const POISON = 'boom';

export class ToyReplica implements ReplicaCore<ToyMsg, ToyRecord> {
  readonly log: string[] = [];
  /** What the replica was fed, in order ('step:<type>', 'tick', 'flush'). */
  readonly calls: string[] = [];
  readonly pings: { from: number; n: number }[] = [];
  /** Output lists a test wants emitted, one per coming tick. */
  readonly script: ToyOutput[][] = [];
  ticks = 0;
  private role: 'leader' | 'follower' = 'follower';
  private ballot = 0;
  private pingCount = 0;
  private poisoned = false;
  private readonly early = new Map<number, string>();
  private readonly acks = new Map<number, { client: ClientAddr; seq: number; from: Set<number> }>();

  constructor(
    readonly addr: ReplicaAddr,
    records: readonly ToyRecord[],
    private readonly options: ToyOptions,
  ) {
    for (const r of records) {
      assert(r.index === this.log.length, `record ${r.index} out of order`);
      this.log.push(r.value);
    }
  }

  /** Start claiming leadership at `ballot` (what the simulated master looks for). */
  claim(ballot: number): void {
    this.role = 'leader';
    this.ballot = ballot;
  }

  resign(): void {
    this.role = 'follower';
  }

  step(from: Sender, msg: ToyMsg): ToyOutput[] {
    this.calls.push(`step:${msg.type}`);
    switch (msg.type) {
      case 'write':
        assert(from.kind === 'client', 'write from a replica');
        return this.onWrite(from, msg.seq, msg.value);
      case 'replicate':
        return this.onReplicate(msg.index, msg.value);
      case 'replicateAck':
        assert(from.kind === 'replica', 'ack from a client');
        return this.onReplicateAck(from.replica, msg.index);
      case 'ping':
        assert(from.kind === 'replica', 'ping from a client');
        this.pings.push({ from: from.replica, n: msg.n });
        return [];
      case 'writeReply':
        throw new Error('a replica got a writeReply');
    }
  }

  tick(): ToyOutput[] {
    this.calls.push('tick');
    this.ticks++;
    const out: ToyOutput[] = this.script.shift() ?? [];
    const every = this.options.pingEveryTicks ?? 0;
    if (every > 0 && this.ticks % every === 0) {
      for (let i = 0; i < (this.options.pingsPerRound ?? 1); i++) {
        const n = this.pingCount++;
        for (const peer of this.peers()) out.push({ type: 'send', to: peer, msg: { type: 'ping', n } });
      }
    }
    return out;
  }

  flush(): ToyOutput[] {
    this.calls.push('flush');
    return [];
  }

  status(): ReplicaStatus {
    return { role: this.role, ballot: this.ballot, leader: -1, executed: this.log.length };
  }

  checkInvariants(): void {
    assert(!this.poisoned, `${POISON} was written`);
  }

  stateDigest(): { executed: number; entries: [string, string][] } {
    return { executed: this.log.length, entries: this.log.map((v, i) => [String(i), v]) };
  }

  private onWrite(client: ClientAddr, seq: number, value: string): ToyOutput[] {
    if (this.role !== 'leader') return [{ type: 'send', to: client, msg: { type: 'writeReply', seq, ok: false } }];
    const index = this.log.length;
    this.append(value);
    this.acks.set(index, { client, seq, from: new Set([this.addr.replica]) });
    const out: ToyOutput[] = [{ type: 'persist', record: { index, value }, lazy: false }];
    for (const peer of this.peers()) out.push({ type: 'send', to: peer, msg: { type: 'replicate', index, value } });
    return out;
  }

  /** Entries that arrived ahead of a gap wait in `early` until the gap fills. */
  private onReplicate(index: number, value: string): ToyOutput[] {
    const leader = { kind: 'leader', shard: this.addr.shard } as const;
    if (index < this.log.length) return [{ type: 'send', to: leader, msg: { type: 'replicateAck', index } }];
    this.early.set(index, value);
    const out: ToyOutput[] = [];
    for (let next = this.early.get(this.log.length); next !== undefined; next = this.early.get(this.log.length)) {
      const at = this.log.length;
      this.early.delete(at);
      this.append(next);
      out.push({ type: 'persist', record: { index: at, value: next }, lazy: false });
      out.push({ type: 'send', to: leader, msg: { type: 'replicateAck', index: at } });
    }
    return out;
  }

  private onReplicateAck(from: number, index: number): ToyOutput[] {
    const entry = this.acks.get(index);
    if (entry === undefined) return [];
    entry.from.add(from);
    if (entry.from.size < majority(this.options.replicas)) return [];
    this.acks.delete(index);
    return [{ type: 'send', to: entry.client, msg: { type: 'writeReply', seq: entry.seq, ok: true } }];
  }

  private append(value: string): void {
    this.log.push(value);
    if (value === POISON) this.poisoned = true;
  }

  private peers(): ReplicaAddr[] {
    const out: ReplicaAddr[] = [];
    for (let r = 0; r < this.options.replicas; r++) {
      if (r !== this.addr.replica) out.push(replicaAddr(this.addr.shard, r));
    }
    return out;
  }
}

/**
 * A client session for the toy: every operation is a write of `key=value` (or of the bare value
 * when it is the poison) to the leader of shard 0; it completes ok when the write is acknowledged,
 * fails when a non-leader refuses it, and becomes unknown after `timeoutTicks`.
 */
export class ToyClient implements ClientCore<ToyMsg> {
  private nextSeq = 0;
  private ticks = 0;
  private readonly pending = new Map<number, { op: OpName; deadline: number }>();
  private completions: Completion[] = [];

  constructor(private readonly timeoutTicks: number) {}

  get outstanding(): number {
    return this.pending.size;
  }

  submit(op: OpInput): { seq: number; outputs: Output<ToyMsg, never>[] } {
    const seq = this.nextSeq++;
    this.pending.set(seq, { op: op.op, deadline: this.ticks + this.timeoutTicks });
    const value = op.value === POISON ? POISON : `${op.key}=${op.value ?? ''}`;
    return { seq, outputs: [{ type: 'send', to: { kind: 'leader', shard: 0 }, msg: { type: 'write', seq, value } }] };
  }

  step(_from: Sender, msg: ToyMsg): Output<ToyMsg, never>[] {
    assert(msg.type === 'writeReply', `a client got ${msg.type}`);
    const p = this.pending.get(msg.seq);
    if (p === undefined) return [];
    this.pending.delete(msg.seq);
    if (!msg.ok) this.completions.push({ seq: msg.seq, status: 'fail', error: 'not_leader' });
    else this.completions.push({ seq: msg.seq, status: 'ok', output: p.op === 'cas' ? true : null });
    return [];
  }

  tick(): Output<ToyMsg, never>[] {
    this.ticks++;
    for (const [seq, p] of this.pending) {
      if (p.deadline <= this.ticks) {
        this.pending.delete(seq);
        this.completions.push({ seq, status: 'unknown', error: 'timeout' });
      }
    }
    return [];
  }

  flush(): Output<ToyMsg, never>[] {
    return [];
  }

  takeCompletions(): Completion[] {
    const c = this.completions;
    this.completions = [];
    return c;
  }
}

/** Keeps the latest core built for each replica, so a test can reach the toy's extra methods. */
export class ToyCluster {
  readonly cores = new Map<string, ToyReplica>();
  /** Records each replica was built from, per build (start or restart). */
  readonly builds: { replica: number; records: ToyRecord[] }[] = [];

  constructor(private readonly options: ToyOptions) {}

  readonly factory = (addr: ReplicaAddr, records: ToyRecord[]): ToyReplica => {
    this.builds.push({ replica: addr.replica, records: [...records] });
    const core = new ToyReplica(addr, records, this.options);
    if (this.options.leader === addr.replica) core.claim(1);
    this.cores.set(`${addr.shard}.${addr.replica}`, core);
    return core;
  };

  core(replica: number, shard = 0): ToyReplica {
    const core = this.cores.get(`${shard}.${replica}`);
    assert(core !== undefined, `no toy replica ${shard}.${replica}`);
    return core;
  }
}
