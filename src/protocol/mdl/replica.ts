/**
 * An MDL shard replica (PROTOCOLS.md §5). Every shard runs the replicated log of
 * common/paxos.ts; the leader moves each operation through
 *   pending → committed → coordinated → ordered → executed:
 * - pending: a `pending` item (the command and where its predecessor went) is proposed;
 * - committed: that slot is chosen, so the operation survives any leader failure;
 * - coordinated: its predecessor has a timestamp (a coordination reply, CRR, from the
 *   predecessor's shard leader, or locally when the predecessor is on this shard); at once when
 *   it has no predecessor, which also skips the pending round (the fast path: one round, as in
 *   Multi-Paxos);
 * - ordered: the leader gives it `ts = max(predTs + 1, shardTs)`, proposes an `order` item and,
 *   right away, answers the successor's coordination request (CR) with ts (a fast-path operation
 *   is durable only once its order item is chosen, so its successor hears only then);
 * - executed: the `order` slot is chosen and executed, and the client gets its result.
 * An operation that waits too long for its predecessor's CRR, or gets a failing one, fails: a
 * `fail` item is chosen first, then the client and the successor are told.
 *
 * Why the orders cannot form a cycle (normal case): an operation is ordered only after its
 * predecessor was ordered, and each leader appends in increasing timestamp order, so along every
 * edge (shard order, client issue order, real time: an operation returns only after it executes)
 * the moment an operation is appended grows. Suffix-closed failures: a successor is coordinated
 * only once its predecessor was committed and ordered, and an ordered operation never fails, so if
 * a successor succeeds every predecessor executes; a failing predecessor makes its successor fail.
 *
 * Leader failover. Coordination state is not replicated, and a CRR leaves before the `order`
 * slot is chosen, so a crash can lose an operation e's order item after its successor (on another
 * shard) was already ordered using e's timestamp t. The new leader:
 * 1. completes the log as Multi-Paxos does, but proposes `hold` (not a no-op) for the first slot
 *    no quorum member accepted anything in; from that slot on, every replica buffers `order` items
 *    instead of executing them;
 * 2. takes E = the committed operations without an order or fail item (replicated state);
 * 3. for each e in E asks its predecessor's shard for the predecessor's timestamp p (the same CR a
 *    client sends; the answer is a timestamp or a failure, and a shard that never saw the
 *    predecessor fails it, durably, which is safe because it was never committed there);
 * 4. gives e `ts = max(p + 1, B + 1)`, B the largest timestamp executed here, and proposes e's
 *    order item at once (buffered behind a hold, which it proposes first if none is in force);
 *    once that item is chosen it answers coordination requests about e (each operation waits
 *    only for its own predecessor, so shards recovering together never wait for each other);
 *    when every recovered operation is placed, a `recover` marker releases the buffer in
 *    timestamp order. Only then does it serve.
 * Timestamps never increase across a recovery: e's lost t was at least p + 1 and, since e's order
 * item sat at or after the first empty slot, above every executed timestamp, so the new ts <= t,
 * below every successor's. Execution in timestamp order puts e before everything an earlier
 * leader appended after it. Failures stay suffix-closed: recovery fails e only if its predecessor
 * failed, and a predecessor that some leader coordinated was committed and ordered there, so it
 * can only be answered with a timestamp.
 *
 * Stale decisions. Paxos may choose a value long after the leader that proposed it lost office,
 * so a log can hold an `order` or `fail` for an operation a newer leader has since handled. Items
 * carry the ballot of the leader that decided them, and the state machine (machine.ts) applies an
 * item only while it can still be current: an order only to an operation not yet placed, above
 * every executed timestamp; a fail only to one not yet placed and not committed by a newer leader
 * (which may already have told its successor its timestamp).
 */
import { assert } from '../common/assert.js';
import type { Phase, ReplicaCore, ReplicaStatus, Sender } from '../common/core.js';
import { type Command, commandProblem } from '../common/kv.js';
import { commandsOf } from '../common/messages.js';
import { Outbox } from '../common/outbox.js';
import { type PaxosConfig, PaxosEngine } from '../common/paxos.js';
import type { Rng } from '../common/rng.js';
import { shardOf } from '../common/shardmap.js';
import { marker, type MdlMachineLimits, MdlMachine, opId } from './machine.js';
import type { MdlItem, MdlLogMessage, MdlRecord, MdlState, MdlWire } from './messages.js';

export interface MdlConfig extends PaxosConfig, MdlMachineLimits {
  readonly shards: number;
  /** Items in one proposed slot. */
  readonly batchItemsMax: number;
  /** Requests queued (while recovering) plus items waiting for a slot; beyond it: busy. */
  readonly pendingRequestsMax: number;
  /** An operation that waits this long for its predecessor's coordination reply fails. */
  readonly coordTimeoutTicks: number;
  /** A leader asks the predecessor's shard again this often while it waits. */
  readonly crResendTicks: number;
  /** A coordination request about an operation this shard never saw fails it after this long. */
  readonly predUnknownTimeoutTicks: number;
  /** Coordination requests waiting for their operation, and replies that came before theirs. */
  readonly coordWaitingMax: number;
  /** Emit an `observe` output at each phase of each operation (latency breakdowns). */
  readonly observePhases: boolean;
}

type MdlRequest = Extract<MdlWire, { type: 'mdlRequest' }>;
type CoordRequest = Extract<MdlWire, { type: 'coordRequest' }>;
type CoordReply = Extract<MdlWire, { type: 'coordReply' }>;

interface LeaderOp {
  readonly cmd: Command;
  readonly predShard: number;
  readonly predSeq: number;
  committed: boolean;
  /** The predecessor's timestamp once coordinated. */
  predTs: number | null;
  readonly arrivedTick: number;
  crSentTick: number;
}

interface WaitingCr {
  readonly client: string;
  readonly seq: number;
  readonly succShard: number;
  readonly succSeq: number;
  readonly arrivedTick: number;
}

interface Recovering {
  readonly client: string;
  readonly seq: number;
  readonly predShard: number;
  readonly predSeq: number;
  /** The decision: a timestamp, or failed; undefined while the predecessor's answer is awaited. */
  ts?: number;
  failed?: boolean;
  crSentTick: number;
  /** Its order or fail item is chosen. */
  settled: boolean;
}

const LOG_TYPES = new Set<string>([
  'prepare',
  'prepareReply',
  'accept',
  'acceptReply',
  'commit',
  'commitShort',
  'heartbeat',
  'heartbeatReply',
  'fetch',
  'snapshot',
]);

function isLogMessage(m: MdlWire): m is MdlLogMessage {
  return LOG_TYPES.has(m.type);
}

export class MdlReplica implements ReplicaCore<MdlWire, MdlRecord> {
  private readonly out = new Outbox<MdlWire, MdlRecord>();
  readonly machine: MdlMachine;
  readonly engine: PaxosEngine<MdlItem[], MdlState, MdlWire>;
  private now = 0;

  /** Serving clients: the log recovered and every recovered operation placed. */
  private serving = false;
  private recoveryDue = false;
  private recovery: Map<string, Recovering> | null = null;
  private releaseProposed = false;
  private recoveryBase = 0;
  /** The `recover` marker, waiting for room in the pipeline (it must be a slot of its own). */
  private recoverySlot: MdlItem[] | null = null;

  private shardTs = 1;
  private readonly ops = new Map<string, LeaderOp>();
  private readonly appendedTs = new Map<string, number>();
  /**
   * Fast-path operations (no pending round) whose order item is not chosen yet: until it is, the
   * operation is durable nowhere, so no successor may be coordinated with its timestamp (a crash
   * could lose it while a successor succeeds).
   */
  private readonly uncommittedFast = new Set<string>();
  private readonly failing = new Set<string>();
  private readonly waitingCrs = new Map<string, WaitingCr>();
  private readonly earlyCrrs = new Map<string, { ok: boolean; ts: number }>();
  private proposals: MdlItem[] = [];
  private queued: MdlRequest[] = [];

  constructor(
    readonly config: MdlConfig,
    rng: Rng,
    records: readonly MdlRecord[],
  ) {
    assert(config.shards >= 1 && config.shard < config.shards, 'shard out of range');
    assert(config.batchItemsMax >= 1 && config.pendingRequestsMax >= config.batchItemsMax, 'batch and queue limits');
    assert(config.coordTimeoutTicks > config.crResendTicks && config.crResendTicks >= 1, 'coordination timing');
    assert(config.predUnknownTimeoutTicks >= 1 && config.coordWaitingMax >= 1 && config.recentTsMax >= 1, 'coordination limits');
    this.machine = new MdlMachine(config.replica, config.replicas === 1, config, this.out, {
      committed: (id, leading) => this.onCommitted(id, leading),
      ordered: (id) => this.onSettled(id),
      failed: (id) => this.onSettled(id),
      recovered: () => this.onRecovered(),
      leadership: (serving) => this.onLeadership(serving),
    });
    this.engine = new PaxosEngine(config, this.machine, rng, this.out, records);
    this.out.take();
  }

  // ---------------------------------------------------------------- host interface

  step(from: Sender, msg: MdlWire) {
    switch (msg.type) {
      case 'mdlRequest':
        if (from.kind === 'client') this.onRequest(msg);
        break;
      case 'request':
        if (from.kind === 'client') this.onRequest({ type: 'mdlRequest', cmd: msg.cmd, predShard: -1, predSeq: -1 });
        break;
      case 'requests':
        if (from.kind === 'client') for (const cmd of commandsOf(msg)) this.onRequest({ type: 'mdlRequest', cmd, predShard: -1, predSeq: -1 });
        break;
      case 'coordRequest':
        this.onCoordRequest(msg);
        break;
      case 'coordReply':
        if (from.kind === 'replica') this.onCoordReply(msg);
        break;
      default:
        if (isLogMessage(msg)) this.engine.onMessage(from, msg);
    }
    return this.out.take();
  }

  tick() {
    this.now++;
    this.engine.tick();
    if (this.engine.role === 'leader') {
      if (this.serving) this.leaderTick();
      else if (this.recovery !== null) this.recoveryTick();
    }
    return this.out.take();
  }

  flush() {
    if (this.recoveryDue && this.engine.serving) {
      this.recoveryDue = false;
      this.startRecovery();
    }
    if (this.serving && this.queued.length > 0) {
      const queued = this.queued;
      this.queued = [];
      for (const r of queued) this.admit(r);
    }
    if (this.recoverySlot !== null && this.engine.canPropose()) {
      this.engine.propose(this.recoverySlot);
      this.recoverySlot = null;
    }
    while (this.proposals.length > 0 && this.engine.canPropose()) {
      this.engine.propose(this.proposals.splice(0, this.config.batchItemsMax));
    }
    this.engine.flush();
    return this.out.take();
  }

  status(): ReplicaStatus {
    const e = this.engine;
    return { role: e.role, ballot: e.role === 'leader' ? e.ballot : e.promised, leader: e.leader, executed: e.executedUpTo };
  }

  stateDigest() {
    return { executed: this.engine.executedUpTo, entries: this.machine.kv.entries() };
  }

  compactRecords(): MdlRecord[] {
    return this.engine.compactRecords();
  }

  checkInvariants(): void {
    this.engine.checkInvariants();
    this.machine.checkInvariants();
    if (this.engine.role !== 'leader') {
      assert(!this.serving && this.ops.size === 0 && this.proposals.length === 0, 'a non-leader with MDL leader state');
    }
    if (this.serving) {
      assert(this.shardTs > this.machine.maxTs, 'shardTs at or below an ordered timestamp');
      for (const [id, ts] of this.appendedTs) assert(ts < this.shardTs, `appended ${id} at ${ts} >= shardTs`);
    }
  }

  // ---------------------------------------------------------------- clients

  private onRequest(r: MdlRequest): void {
    const cmd = r.cmd;
    const m = this.machine;
    if (commandProblem(cmd) !== null || r.predSeq >= cmd.seq || (r.predSeq >= 0 && !(r.predShard >= 0 && r.predShard < this.config.shards))) {
      return m.reply(cmd.client, cmd.seq, 'bad_request', null);
    }
    if (shardOf(cmd.key, this.config.shards) !== this.config.shard) return m.reply(cmd.client, cmd.seq, 'wrong_shard', null);
    if (this.engine.role !== 'leader') return m.reply(cmd.client, cmd.seq, 'not_leader', null, this.engine.leader);
    if (!this.serving) {
      if (this.queued.length >= this.config.pendingRequestsMax) return m.reply(cmd.client, cmd.seq, 'busy', null);
      this.queued.push(r);
      return;
    }
    this.admit(r);
  }

  private admit(r: MdlRequest): void {
    const { cmd } = r;
    const id = opId(cmd.client, cmd.seq);
    const m = this.machine;
    const seen = m.sessions.lookup(cmd.client, cmd.seq);
    switch (seen.kind) {
      case 'done':
        return m.reply(cmd.client, cmd.seq, 'ok', seen.output);
      case 'failed':
        return m.reply(cmd.client, cmd.seq, 'failed', null);
      case 'stale':
        return m.reply(cmd.client, cmd.seq, 'stale', null);
      case 'new':
        break;
    }
    // Already on its way: the answer comes when it executes or fails.
    if (this.ops.has(id) || this.failing.has(id) || this.appendedTs.has(id) || this.machine.tsOf(id) !== undefined || m.committed.has(id)) return;
    if (this.proposals.length + this.ops.size >= this.config.pendingRequestsMax) return m.reply(cmd.client, cmd.seq, 'busy', null);
    this.observe('arrived', cmd.client, cmd.seq);
    if (r.predSeq < 0) {
      this.uncommittedFast.add(id);
      this.observe('coordinated', cmd.client, cmd.seq);
      this.append(id, this.shardTs, cmd);
      return;
    }
    const op: LeaderOp = { cmd, predShard: r.predShard, predSeq: r.predSeq, committed: false, predTs: null, arrivedTick: this.now, crSentTick: this.now };
    this.ops.set(id, op);
    this.proposals.push(this.item('pending', cmd.client, cmd.seq, 0, cmd, r.predShard, r.predSeq));
    const predId = opId(cmd.client, r.predSeq);
    if (r.predShard === this.config.shard) {
      // A successor on this shard is coordinated locally, without a message.
      this.waitFor(predId, { client: cmd.client, seq: r.predSeq, succShard: this.config.shard, succSeq: cmd.seq, arrivedTick: this.now });
    } else {
      const early = this.earlyCrrs.get(id);
      if (early !== undefined) {
        this.earlyCrrs.delete(id);
        this.coordinated(id, op, early.ok, early.ts);
      }
    }
  }

  // ---------------------------------------------------------------- ordering

  /**
   * The timestamp `id` has or will have here, if decided: appended by this leader, ordered in the
   * log, or decided by this leader's recovery. Answering with it before the order (or recover)
   * slot is chosen is safe: a later leader can only give the operation a timestamp as small or
   * smaller (the argument at the top of this file).
   */
  private knownTs(id: string): number | undefined {
    if (this.uncommittedFast.has(id)) return undefined;
    return this.appendedTs.get(id) ?? this.machine.tsOf(id);
  }

  private isFailed(id: string, client: string, seq: number): boolean {
    return this.failing.has(id) || this.machine.isFailed(client, seq);
  }

  /** An item decided by this leader now. */
  private item(kind: 'pending' | 'order' | 'fail', client: string, seq: number, ts: number, cmd: Command | null, predShard = -1, predSeq = -1): MdlItem {
    return { kind, client, seq, ts, predShard, predSeq, cmd, ballot: this.engine.ballot };
  }

  /** Gives `id` its place: an order item with `ts`, and the answer to its successor's CR. */
  private append(id: string, ts: number, cmd: Command | null): void {
    assert(ts >= this.shardTs, `timestamp ${ts} below shardTs ${this.shardTs}`);
    this.shardTs = ts + 1;
    this.appendedTs.set(id, ts);
    const [client, seq] = cmd !== null ? [cmd.client, cmd.seq] : splitId(id);
    this.observe('appended', client, seq);
    this.proposals.push(this.item('order', client, seq, ts, cmd));
    this.answerWaiting(id);
  }

  private onCommitted(id: string, leading: boolean): void {
    if (!leading) return;
    const op = this.ops.get(id);
    if (op === undefined) return;
    op.committed = true;
    this.observe('committed', op.cmd.client, op.cmd.seq);
    this.tryOrder(id, op);
  }

  private coordinated(id: string, op: LeaderOp, ok: boolean, ts: number): void {
    if (op.predTs !== null) return;
    if (!ok) return this.fail(id, op.cmd.client, op.cmd.seq);
    op.predTs = ts;
    this.observe('coordinated', op.cmd.client, op.cmd.seq);
    this.tryOrder(id, op);
  }

  private tryOrder(id: string, op: LeaderOp): void {
    if (!op.committed || op.predTs === null || !this.serving) return;
    this.ops.delete(id);
    this.append(id, Math.max(op.predTs + 1, this.shardTs), null);
  }

  private fail(id: string, client: string, seq: number): void {
    this.ops.delete(id);
    if (this.failing.has(id)) return;
    this.failing.add(id);
    this.proposals.push(this.item('fail', client, seq, 0, null));
  }

  private observe(phase: Phase, client: string, seq: number): void {
    if (this.config.observePhases) this.out.observe(phase, client, seq);
  }

  /** An operation was ordered or failed in the log: forget the leader's in-flight note, answer its successor. */
  private onSettled(id: string): void {
    if (this.appendedTs.has(id)) {
      const [client, seq] = splitId(id);
      if (this.uncommittedFast.has(id)) this.observe('committed', client, seq);
      this.observe('executed', client, seq);
    }
    this.appendedTs.delete(id);
    this.uncommittedFast.delete(id);
    this.failing.delete(id);
    this.ops.delete(id);
    this.answerWaiting(id);
    const rec = this.recovery?.get(id);
    if (rec !== undefined) {
      rec.settled = true;
      this.releaseIfDone();
    }
  }

  // ---------------------------------------------------------------- coordination

  private waitFor(predId: string, w: WaitingCr): void {
    const earlier = this.waitingCrs.get(predId);
    this.waitingCrs.delete(predId);
    // A repeated request keeps the first one's arrival: the unknown-predecessor timeout runs from there.
    this.waitingCrs.set(predId, earlier !== undefined && earlier.succSeq === w.succSeq ? earlier : w);
    if (this.waitingCrs.size > this.config.coordWaitingMax) {
      // The oldest waiter's successor will ask again (or fail by its own timeout).
      const oldest = this.waitingCrs.keys().next();
      if (oldest.done !== true) this.waitingCrs.delete(oldest.value);
    }
    this.answerWaiting(predId);
  }

  /** Answers the coordination request waiting for `predId`, if its fate is known now. */
  private answerWaiting(predId: string): void {
    const w = this.waitingCrs.get(predId);
    if (w === undefined) return;
    const ts = this.knownTs(predId);
    if (ts !== undefined) {
      this.waitingCrs.delete(predId);
      this.sendCrr(w, true, ts);
    } else if (this.isFailed(predId, w.client, w.seq)) {
      this.waitingCrs.delete(predId);
      this.sendCrr(w, false, 0);
    }
  }

  private sendCrr(w: WaitingCr, ok: boolean, ts: number): void {
    const reply: CoordReply = { type: 'coordReply', client: w.client, seq: w.seq, succSeq: w.succSeq, ok, ts };
    if (w.succShard === this.config.shard) this.onCoordReply(reply);
    else this.out.sendChosen({ kind: 'leader', shard: w.succShard }, reply, this.config.replicas === 1);
  }

  private onCoordRequest(m: CoordRequest): void {
    if (this.engine.role !== 'leader' || m.succShard >= this.config.shards || m.succSeq <= m.seq) return;
    this.waitFor(opId(m.client, m.seq), { client: m.client, seq: m.seq, succShard: m.succShard, succSeq: m.succSeq, arrivedTick: this.now });
  }

  private onCoordReply(m: CoordReply): void {
    if (this.engine.role !== 'leader') return;
    const succId = opId(m.client, m.succSeq);
    const rec = this.recovery?.get(succId);
    if (rec !== undefined) {
      if (rec.ts === undefined && rec.failed !== true) this.decideRecovered(rec, m.ok ? m.ts : null);
      return;
    }
    const op = this.ops.get(succId);
    if (op !== undefined) return this.coordinated(succId, op, m.ok, m.ts);
    if (!this.serving) return;
    this.earlyCrrs.delete(succId);
    this.earlyCrrs.set(succId, { ok: m.ok, ts: m.ts });
    if (this.earlyCrrs.size > this.config.coordWaitingMax) {
      const oldest = this.earlyCrrs.keys().next();
      if (oldest.done !== true) this.earlyCrrs.delete(oldest.value);
    }
  }

  private sendCr(client: string, predSeq: number, predShard: number, succSeq: number): void {
    this.out.send({ kind: 'leader', shard: predShard }, { type: 'coordRequest', client, seq: predSeq, succShard: this.config.shard, succSeq });
  }

  private leaderTick(): void {
    for (const [id, op] of this.ops) {
      if (op.predTs !== null) continue;
      if (this.now - op.arrivedTick >= this.config.coordTimeoutTicks) {
        this.fail(id, op.cmd.client, op.cmd.seq);
      } else if (op.predShard !== this.config.shard && this.now - op.crSentTick >= this.config.crResendTicks) {
        op.crSentTick = this.now;
        this.sendCr(op.cmd.client, op.predSeq, op.predShard, op.cmd.seq);
      }
    }
    this.failUnknownPredecessors();
  }

  /**
   * Coordination requests about operations this shard never saw: after a while the operation
   * fails here (it was never committed here, so nobody was told otherwise). Runs while recovering
   * too, since other shards' recoveries may be waiting for exactly this answer.
   */
  private failUnknownPredecessors(): void {
    for (const [predId, w] of this.waitingCrs) {
      if (this.now - w.arrivedTick < this.config.predUnknownTimeoutTicks) continue;
      if (this.ops.has(predId) || this.failing.has(predId) || this.machine.committed.has(predId)) continue;
      if (this.recovery?.has(predId) === true || this.knownTs(predId) !== undefined) continue;
      if (this.machine.isDone(w.client, w.seq)) {
        // Executed so long ago that its timestamp is forgotten: the successor must fail.
        this.waitingCrs.delete(predId);
        this.sendCrr(w, false, 0);
      } else {
        // Never seen here, so never committed here: failing it is safe, and it must be durable
        // before anyone hears of it, so that a late copy is refused.
        this.fail(predId, w.client, w.seq);
      }
    }
  }

  // ---------------------------------------------------------------- failover

  private onLeadership(serving: boolean): void {
    if (serving) {
      // The log is complete; the last recovered slot executes right after this call returns.
      this.recoveryDue = true;
      return;
    }
    this.serving = false;
    this.recoveryDue = false;
    this.recovery = null;
    this.recoverySlot = null;
    this.ops.clear();
    this.appendedTs.clear();
    this.uncommittedFast.clear();
    this.failing.clear();
    this.waitingCrs.clear();
    this.earlyCrrs.clear();
    this.proposals = [];
    for (const r of this.queued) this.machine.reply(r.cmd.client, r.cmd.seq, 'not_leader', null, this.engine.leader);
    this.queued = [];
  }

  private startRecovery(): void {
    const m = this.machine;
    const recoverable = [...m.committed].filter(([, c]) => m.orderable(c.cmd.client, c.cmd.seq));
    if (recoverable.length === 0 && !m.holding) return this.startServing();
    this.recovery = new Map();
    this.releaseProposed = false;
    this.recoveryBase = m.executedTs;
    // Each recovered operation is placed on its own as soon as its predecessor's fate is known,
    // behind a hold, so that the recover marker releases them all in timestamp order.
    if (!m.holding) this.proposals.unshift(marker('hold', this.engine.ballot));
    const ids = recoverable.sort(([, a], [, b]) =>
      a.cmd.client < b.cmd.client ? -1 : a.cmd.client > b.cmd.client ? 1 : a.cmd.seq - b.cmd.seq,
    );
    for (const [id, c] of ids) {
      this.recovery.set(id, { client: c.cmd.client, seq: c.cmd.seq, predShard: c.predShard, predSeq: c.predSeq, crSentTick: this.now, settled: false });
    }
    for (const rec of this.recovery.values()) this.resolve(rec);
    this.releaseIfDone();
  }

  /** Decides `rec` if its predecessor's fate is known here; otherwise asks the predecessor's shard. */
  private resolve(rec: Recovering): void {
    if (rec.ts !== undefined || rec.failed === true) return;
    if (rec.predSeq < 0) return this.decideRecovered(rec, -1);
    const predId = opId(rec.client, rec.predSeq);
    if (rec.predShard !== this.config.shard) {
      this.sendCr(rec.client, rec.predSeq, rec.predShard, rec.seq);
      return;
    }
    const pred = this.recovery?.get(predId);
    if (pred !== undefined) {
      if (pred.failed === true) this.decideRecovered(rec, null);
      else if (pred.ts !== undefined) this.decideRecovered(rec, pred.ts);
      return;
    }
    const m = this.machine;
    const ts = m.tsOf(predId);
    if (ts !== undefined) return this.decideRecovered(rec, ts);
    if (m.isFailed(rec.client, rec.predSeq)) return this.decideRecovered(rec, null);
    // Executed long ago: its timestamp is at most the largest executed one.
    if (m.isDone(rec.client, rec.predSeq)) return this.decideRecovered(rec, this.recoveryBase);
    // Never committed on this shard: it fails (durably, before anyone hears), and so does rec.
    this.fail(predId, rec.client, rec.predSeq);
    this.decideRecovered(rec, null);
  }

  /**
   * Places `rec`: `predTs` null means its predecessor failed, -1 that it has none. The decision
   * is proposed now and revealed to other shards only once its item is chosen (onSettled): a
   * decision that dies with this leader is never heard of, and the next leader decides afresh.
   */
  private decideRecovered(rec: Recovering, predTs: number | null): void {
    const id = opId(rec.client, rec.seq);
    if (predTs === null) {
      rec.failed = true;
      this.fail(id, rec.client, rec.seq);
    } else {
      rec.ts = Math.max(predTs + 1, this.recoveryBase + 1);
      this.proposals.push(this.item('order', rec.client, rec.seq, rec.ts, null));
    }
    // A successor on this shard may have been waiting for this one.
    const succ = this.recovery === null ? undefined : [...this.recovery.values()].find(
      (r) => r.client === rec.client && r.predSeq === rec.seq && r.predShard === this.config.shard,
    );
    if (succ !== undefined) this.resolve(succ);
  }

  /** Once every recovered operation's item is chosen, the recover marker releases the buffer. */
  private releaseIfDone(): void {
    const recovery = this.recovery;
    if (recovery === null || this.releaseProposed) return;
    // One that can no longer be ordered (its session table moved past it) has nothing to wait for.
    for (const rec of recovery.values()) if (!rec.settled && this.machine.orderable(rec.client, rec.seq)) return;
    this.releaseProposed = true;
    this.recoverySlot = [marker('recover', this.engine.ballot)];
  }

  private recoveryTick(): void {
    if (this.recovery === null) return;
    this.releaseIfDone();
    this.failUnknownPredecessors();
    for (const rec of this.recovery.values()) {
      if (rec.ts !== undefined || rec.failed === true || rec.predShard === this.config.shard) continue;
      if (this.now - rec.crSentTick >= this.config.crResendTicks) {
        rec.crSentTick = this.now;
        this.sendCr(rec.client, rec.predSeq, rec.predShard, rec.seq);
      }
    }
  }

  private onRecovered(): void {
    if (this.recovery !== null && this.releaseProposed && this.engine.role === 'leader') {
      this.recovery = null;
      this.startServing();
    }
  }

  private startServing(): void {
    this.serving = true;
    this.shardTs = this.machine.maxTs + 1;
    for (const id of [...this.waitingCrs.keys()]) this.answerWaiting(id);
  }
}

function splitId(id: string): [string, number] {
  const cut = id.lastIndexOf('\u0000');
  return [id.slice(0, cut), Number(id.slice(cut + 1))];
}
