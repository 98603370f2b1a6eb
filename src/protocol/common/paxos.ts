/**
 * The replicated log of one shard: Multi-Paxos (PROTOCOLS.md §3) as a pure state machine, generic
 * over what a slot holds. Multi-Paxos and MDL shards both run it; what a chosen slot means is up to
 * the `StateMachine` plugged in.
 *
 * Safety rests on three rules, asserted where they are enforced:
 * - a replica votes (accepts, or promises in a PrepareReply) only for a ballot >= every ballot it
 *   promised, and the vote is durable before the reply leaves (the host's persist-before-send rule);
 * - a leader proposes at most one value per slot per ballot, and a new leader proposes, for every
 *   slot it did not see chosen, the value with the highest ballot any member of a quorum of
 *   PrepareReplies accepted (or a no-op when none did);
 * - a replica marks a slot chosen only on a quorum of votes for one ballot, on a Commit carrying
 *   the value, or on a commit point from the leader of the very ballot its entry was accepted at.
 */
import { assert } from './assert.js';
import type { Sender } from './core.js';
import { majority, Quorum, replicaAddr } from './core.js';
import type { Outbox } from './outbox.js';
import { BALLOT_REPLICAS_MAX, type Entry, type PaxosMessage, type PaxosRecord } from './paxosmsg.js';
import type { Rng } from './rng.js';

export interface PaxosConfig {
  readonly shard: number;
  readonly replica: number;
  readonly replicas: number;
  /** Send each Accept to a bare quorum of followers (the most recently heard) instead of all. */
  readonly thrifty: boolean;
  /** Slots a leader may have proposed and not yet seen chosen. */
  readonly pipelineSlotsMax: number;
  /** A leader with nothing else to send tells followers it is alive this often. */
  readonly heartbeatTicks: number;
  /** A follower that hears nothing from a leader for this long (plus a random part as long again) runs for election. */
  readonly electionTimeoutTicks: number;
  /** Unanswered Accepts, Prepares and fetches are sent again after this long. */
  readonly resendTicks: number;
  /** Entries in one PrepareReply; a candidate asks again for the rest. */
  readonly prepareEntriesMax: number;
  /** Slots one fetch asks for. */
  readonly fetchSlotsMax: number;
  /** Executed slots kept in memory for followers that lag; older ones are replaced by a snapshot. */
  readonly logRetainSlots: number;
}

export function checkPaxosConfig(c: PaxosConfig): void {
  assert(c.replicas >= 1 && c.replicas < BALLOT_REPLICAS_MAX, 'replicas must be 1..255');
  assert(c.replica >= 0 && c.replica < c.replicas, 'replica id out of range');
  assert(c.pipelineSlotsMax >= 1, 'pipelineSlotsMax must be >= 1');
  assert(c.heartbeatTicks >= 1, 'heartbeatTicks must be >= 1');
  assert(c.electionTimeoutTicks > 2 * c.heartbeatTicks, 'electionTimeoutTicks must exceed two heartbeats');
  assert(c.resendTicks >= 1 && c.prepareEntriesMax >= 1 && c.fetchSlotsMax >= 1, 'limits must be >= 1');
  assert(c.logRetainSlots >= c.pipelineSlotsMax, 'logRetainSlots must cover the pipeline');
}

/** What a shard's chosen slots mean. */
export interface StateMachine<V, S> {
  /**
   * What a new leader proposes for a slot no quorum member accepted anything in. `firstGap`: the
   * lowest such slot of this leader's recovery (MDL holds execution there until it has resolved
   * the operations whose ordering was lost).
   */
  noop(firstGap: boolean): V;
  /** Items in a value: CommitShort carries it as a cheap check that both sides hold the same value. */
  count(value: V): number;
  /** Execute a chosen slot; called once per slot, in slot order. `leading`: answer clients. */
  apply(slot: number, value: V, leading: boolean): void;
  /** A slot was chosen (it may execute later, after gaps fill). */
  onChosen(slot: number, value: V, leading: boolean): void;
  snapshot(): S;
  restore(state: S): void;
  /** This replica starts serving as leader (recovery done), or stops leading (serving or not). */
  onLeadership(serving: boolean): void;
}

export type PaxosRole = 'follower' | 'candidate' | 'leader';

interface LogEntry<V> {
  ballot: number;
  value: V;
  committed: boolean;
}

interface InFlight {
  readonly votes: Quorum;
  sentTick: number;
}

export class PaxosEngine<V, S, M> {
  role: PaxosRole = 'follower';
  /** The highest ballot this replica has heard of; it votes for nothing lower. */
  promised = 0;
  /** The highest ballot whose promise or vote is on disk (or about to be, ahead of any reply). */
  private promisedDurable = 0;
  /** The ballot of the leader this replica follows, or leads with. */
  ballot = 0;
  leader = -1;

  private log: (LogEntry<V> | undefined)[] = [];
  /** The slot `log[0]` holds; everything below was executed and lives only in the state machine. */
  logBase = 0;
  committedUpTo = 0;
  executedUpTo = 0;

  private now = 0;
  private electionDeadline = 0;

  // Leader state.
  private nextSlot = 0;
  private readonly inflight = new Map<number, InFlight>();
  /** Slots a new leader re-proposed; it serves new proposals only once all are chosen. */
  private readonly recovering = new Set<number>();
  serving = false;
  private readonly lastHeard: number[];
  private readonly followerCommitted: number[];
  private lastBroadcastTick = 0;
  private broadcastCommitted = 0;
  private readonly chosenToAnnounce: number[] = [];

  // Candidate state.
  private prepareVotes: Quorum;
  private readonly collected = new Map<number, { ballot: number; value: V }>();

  // Follower catch-up.
  private fetchTick = -Infinity;
  private fetchUpTo = 0;

  private readonly quorumSize: number;
  private readonly others: number[];

  constructor(
    readonly config: PaxosConfig,
    private readonly sm: StateMachine<V, S>,
    private readonly rng: Rng,
    private readonly out: Outbox<M | PaxosMessage<V, S>, PaxosRecord<V, S>>,
    records: readonly PaxosRecord<V, S>[],
  ) {
    checkPaxosConfig(config);
    this.quorumSize = majority(config.replicas);
    this.prepareVotes = new Quorum(this.quorumSize);
    this.others = [];
    for (let r = 0; r < config.replicas; r++) if (r !== config.replica) this.others.push(r);
    this.lastHeard = new Array<number>(config.replicas).fill(0);
    this.followerCommitted = new Array<number>(config.replicas).fill(0);
    this.restore(records);
    this.resetElectionTimer();
  }

  // ---------------------------------------------------------------- restart

  private restore(records: readonly PaxosRecord<V, S>[]): void {
    for (const r of records) {
      switch (r.type) {
        case 'promise':
          this.promised = Math.max(this.promised, r.ballot);
          break;
        case 'accept': {
          this.promised = Math.max(this.promised, r.ballot);
          if (r.slot < this.logBase) break;
          const e = this.entry(r.slot);
          if (e?.committed !== true) this.setEntry(r.slot, { ballot: r.ballot, value: r.value, committed: false });
          break;
        }
        case 'commit': {
          const e = this.entry(r.slot);
          if (e !== undefined && e.ballot === r.ballot) e.committed = true;
          break;
        }
        case 'snapshot':
          if (r.upTo > this.executedUpTo) this.installSnapshot(r.upTo, r.state);
          break;
      }
    }
    this.promisedDurable = this.promised;
    this.advance();
  }

  /**
   * The smallest set of records equivalent to this replica's state: the promise, a snapshot of the
   * executed state, and every entry not yet executed. The host rewrites its log with them.
   */
  compactRecords(): PaxosRecord<V, S>[] {
    const records: PaxosRecord<V, S>[] = [
      { type: 'promise', ballot: this.promisedDurable },
      { type: 'snapshot', upTo: this.executedUpTo, state: this.sm.snapshot() },
    ];
    for (let s = this.executedUpTo; s < this.logEnd; s++) {
      const e = this.entry(s);
      if (e === undefined) continue;
      records.push({ type: 'accept', ballot: e.ballot, slot: s, value: e.value, committedUpTo: this.committedUpTo });
      if (e.committed) records.push({ type: 'commit', slot: s, ballot: e.ballot });
    }
    return records;
  }

  // ---------------------------------------------------------------- log access

  get logEnd(): number {
    return this.logBase + this.log.length;
  }

  private entry(slot: number): LogEntry<V> | undefined {
    return slot < this.logBase ? undefined : this.log[slot - this.logBase];
  }

  private setEntry(slot: number, e: LogEntry<V>): void {
    assert(slot >= this.logBase, `slot ${slot} is below the log base ${this.logBase}`);
    const i = slot - this.logBase;
    while (this.log.length < i) this.log.push(undefined);
    this.log[i] = e;
  }

  /** The chosen value of `slot`, if this replica knows it (for tests comparing replicas). */
  chosen(slot: number): V | undefined {
    const e = this.entry(slot);
    return e?.committed === true ? e.value : undefined;
  }

  // ---------------------------------------------------------------- input

  onMessage(from: Sender, m: PaxosMessage<V, S>): void {
    if (from.kind !== 'replica' || from.shard !== this.config.shard || from.replica === this.config.replica) return;
    if (from.replica >= this.config.replicas) return;
    const r = from.replica;
    switch (m.type) {
      case 'prepare':
        return this.onPrepare(r, m);
      case 'prepareReply':
        return this.onPrepareReply(r, m);
      case 'accept':
        return this.onAccept(r, m);
      case 'acceptReply':
        return this.onAcceptReply(r, m);
      case 'commit':
        return this.onCommit(m);
      case 'commitShort':
        return this.onCommitShort(r, m);
      case 'heartbeat':
        return this.onHeartbeat(r, m);
      case 'heartbeatReply':
        return this.onHeartbeatReply(r, m);
      case 'fetch':
        return this.onFetch(r, m);
      case 'snapshot':
        return this.onSnapshot(m);
    }
  }

  tick(): void {
    this.now++;
    switch (this.role) {
      case 'leader':
        this.leaderTick();
        break;
      case 'candidate':
        if (this.now >= this.electionDeadline) this.startElection();
        else if (this.now % this.config.resendTicks === 0) this.sendPrepares();
        break;
      case 'follower':
        if (this.now >= this.electionDeadline) this.startElection();
        break;
    }
  }

  /** End of an input burst: announce slots chosen since the last Accept or heartbeat carried the news. */
  flush(): void {
    if (this.role !== 'leader' || this.chosenToAnnounce.length === 0) return;
    for (const slot of this.chosenToAnnounce) {
      if (slot < this.broadcastCommitted) continue;
      const e = this.entry(slot);
      if (e === undefined) continue;
      const count = this.sm.count(e.value);
      for (const r of this.others) this.out.sendChosen(replicaAddr(this.config.shard, r), { type: 'commitShort', ballot: e.ballot, slot, count }, false);
    }
    this.chosenToAnnounce.length = 0;
  }

  // ---------------------------------------------------------------- election

  private resetElectionTimer(): void {
    const t = this.config.electionTimeoutTicks;
    this.electionDeadline = this.now + t + this.rng.int(t);
  }

  private startElection(): void {
    const round = Math.floor(this.promised / BALLOT_REPLICAS_MAX) + 1;
    const ballot = round * BALLOT_REPLICAS_MAX + this.config.replica;
    this.stepDown();
    this.role = 'candidate';
    this.promised = ballot;
    this.ballot = ballot;
    this.leader = -1;
    this.persistPromise(ballot);
    this.resetElectionTimer();
    this.collected.clear();
    this.prepareVotes = new Quorum(this.quorumSize);
    this.prepareVotes.add(this.config.replica);
    this.collect(this.ownEntriesFrom(this.committedUpTo));
    if (this.prepareVotes.reached) this.becomeLeader();
    else this.sendPrepares();
  }

  private sendPrepares(): void {
    for (const r of this.others) {
      if (!this.prepareVotes.has(r)) this.send(r, { type: 'prepare', ballot: this.ballot, fromSlot: this.committedUpTo });
    }
  }

  private ownEntriesFrom(from: number): Entry<V>[] {
    const entries: Entry<V>[] = [];
    for (let s = Math.max(from, this.logBase); s < this.logEnd; s++) {
      const e = this.entry(s);
      if (e !== undefined) entries.push({ slot: s, ballot: e.ballot, value: e.value });
    }
    return entries;
  }

  private collect(entries: readonly Entry<V>[]): void {
    for (const e of entries) {
      const seen = this.collected.get(e.slot);
      if (seen === undefined || seen.ballot < e.ballot) this.collected.set(e.slot, { ballot: e.ballot, value: e.value });
    }
  }

  private onPrepare(from: number, m: Extract<PaxosMessage<V, S>, { type: 'prepare' }>): void {
    if (m.ballot < this.promised) {
      this.send(from, this.refusePrepare(m.ballot, m.fromSlot));
      return;
    }
    if (m.ballot > this.promised) this.observeHigherBallot(m.ballot);
    else this.resetElectionTimer();
    this.persistPromise(m.ballot);
    const start = Math.max(m.fromSlot, this.logBase);
    const entries: Entry<V>[] = [];
    let s = start;
    for (; s < this.logEnd && entries.length < this.config.prepareEntriesMax; s++) {
      const e = this.entry(s);
      if (e !== undefined) entries.push({ slot: s, ballot: e.ballot, value: e.value });
    }
    this.send(from, {
      type: 'prepareReply',
      ballot: m.ballot,
      ok: true,
      promised: this.promised,
      fromSlot: m.fromSlot,
      entries,
      more: s < this.logEnd,
      nextSlot: s,
      logBase: this.logBase,
      committedUpTo: this.committedUpTo,
    });
  }

  private refusePrepare(ballot: number, fromSlot: number): PaxosMessage<V, S> {
    return {
      type: 'prepareReply',
      ballot,
      ok: false,
      promised: this.promised,
      fromSlot,
      entries: [],
      more: false,
      nextSlot: fromSlot,
      logBase: this.logBase,
      committedUpTo: this.committedUpTo,
    };
  }

  private onPrepareReply(from: number, m: Extract<PaxosMessage<V, S>, { type: 'prepareReply' }>): void {
    if (!m.ok) {
      if (m.promised > this.promised) this.observeHigherBallot(m.promised);
      return;
    }
    if (this.role !== 'candidate' || m.ballot !== this.ballot) return;
    if (m.fromSlot < m.logBase && this.committedUpTo < m.logBase) {
      // The follower executed and dropped slots this candidate has not seen chosen: catch up
      // first (a snapshot comes back), then ask again on the next resend.
      this.requestFetch(from, this.committedUpTo, m.logBase);
      return;
    }
    this.collect(m.entries);
    if (m.more) {
      this.send(from, { type: 'prepare', ballot: this.ballot, fromSlot: m.nextSlot });
      return;
    }
    if (this.prepareVotes.add(from)) this.becomeLeader();
  }

  /**
   * A quorum promised this ballot and reported what it accepted from our commit point on. Every
   * slot not known chosen gets the highest-ballot value reported, or a no-op; only when all of
   * them are chosen does the leader serve new proposals.
   */
  private becomeLeader(): void {
    assert(this.role === 'candidate' && this.ballot === this.promised, 'only a candidate holding its ballot becomes leader');
    this.role = 'leader';
    this.leader = this.config.replica;
    let maxSlot = this.logEnd - 1;
    for (const slot of this.collected.keys()) maxSlot = Math.max(maxSlot, slot);
    this.nextSlot = Math.max(this.committedUpTo, maxSlot + 1);
    this.lastHeard.fill(this.now);
    this.followerCommitted.fill(0);
    this.broadcastCommitted = 0;
    let firstGap = true;
    for (let s = this.committedUpTo; s < this.nextSlot; s++) {
      if (this.entry(s)?.committed === true) continue;
      const seen = this.collected.get(s);
      const value = seen !== undefined ? seen.value : this.sm.noop(firstGap);
      if (seen === undefined) firstGap = false;
      this.recovering.add(s);
      this.proposeAt(s, value, true);
    }
    this.collected.clear();
    if (this.recovering.size === 0 && !this.serving) this.startServing();
  }

  private startServing(): void {
    this.serving = true;
    this.sm.onLeadership(true);
  }

  private stepDown(): void {
    if (this.role === 'leader') this.sm.onLeadership(false);
    this.role = 'follower';
    this.serving = false;
    this.inflight.clear();
    this.recovering.clear();
    this.chosenToAnnounce.length = 0;
  }

  private observeHigherBallot(ballot: number): void {
    this.promised = Math.max(this.promised, ballot);
    this.abdicate();
  }

  /** Stops leading or running for leader, knows no leader, and waits a fresh election timeout. */
  private abdicate(): void {
    this.stepDown();
    this.leader = -1;
    this.resetElectionTimer();
  }

  // ---------------------------------------------------------------- leader

  canPropose(): boolean {
    return this.role === 'leader' && this.serving && this.inflight.size < this.config.pipelineSlotsMax;
  }

  /** Propose `value` in the next slot. The caller checked `canPropose()`. */
  propose(value: V): number {
    assert(this.canPropose(), 'propose without room to propose');
    const slot = this.nextSlot++;
    this.proposeAt(slot, value, false);
    return slot;
  }

  private proposeAt(slot: number, value: V, toAll: boolean): void {
    assert(this.entry(slot)?.committed !== true, `slot ${slot} is already chosen`);
    this.setEntry(slot, { ballot: this.ballot, value, committed: false });
    const msg = { type: 'accept', ballot: this.ballot, slot, value, committedUpTo: this.committedUpTo } as const;
    // The record is the message: the host encodes it once for the log and the followers.
    this.persist(msg);
    const votes = new Quorum(this.quorumSize);
    votes.add(this.config.replica);
    this.inflight.set(slot, { votes, sentTick: this.now });
    for (const r of toAll || !this.config.thrifty ? this.others : this.thriftyTargets()) this.send(r, msg);
    this.broadcastCommitted = this.committedUpTo;
    this.lastBroadcastTick = this.now;
    if (votes.reached) this.choose(slot);
  }

  /** The quorum-1 followers heard from most recently (ties to the lower id). */
  private thriftyTargets(): number[] {
    return [...this.others]
      .sort((a, b) => (this.lastHeard[b] as number) - (this.lastHeard[a] as number) || a - b)
      .slice(0, this.quorumSize - 1);
  }

  private leaderTick(): void {
    for (const [slot, f] of this.inflight) {
      if (this.now - f.sentTick < this.config.resendTicks) continue;
      const e = this.entry(slot);
      assert(e !== undefined, `in-flight slot ${slot} has no entry`);
      const msg = { type: 'accept', ballot: this.ballot, slot, value: e.value, committedUpTo: this.committedUpTo } as const;
      for (const r of this.others) if (!f.votes.has(r)) this.send(r, msg);
      f.sentTick = this.now;
    }
    if (this.now - this.lastBroadcastTick >= this.config.heartbeatTicks) {
      for (const r of this.others) this.send(r, { type: 'heartbeat', ballot: this.ballot, committedUpTo: this.committedUpTo });
      this.lastBroadcastTick = this.now;
      this.broadcastCommitted = this.committedUpTo;
    }
    // A leader cut off from a quorum stops claiming leadership, so clients look elsewhere.
    const heard = this.others.filter((r) => this.now - (this.lastHeard[r] as number) <= 2 * this.config.electionTimeoutTicks);
    if (heard.length + 1 < this.quorumSize) this.abdicate();
  }

  private heardFrom(from: number, committedUpTo: number): void {
    this.lastHeard[from] = this.now;
    if (committedUpTo > (this.followerCommitted[from] as number)) this.followerCommitted[from] = committedUpTo;
  }

  private onAcceptReply(from: number, m: Extract<PaxosMessage<V, S>, { type: 'acceptReply' }>): void {
    if (!m.ok) {
      if (m.promised > this.promised) this.observeHigherBallot(m.promised);
      return;
    }
    if (this.role !== 'leader' || m.ballot !== this.ballot) return;
    this.heardFrom(from, m.committedUpTo);
    const f = this.inflight.get(m.slot);
    if (f !== undefined && f.votes.add(from)) this.choose(m.slot);
  }

  private onHeartbeatReply(from: number, m: Extract<PaxosMessage<V, S>, { type: 'heartbeatReply' }>): void {
    if (!m.ok) {
      if (m.promised > this.promised) this.observeHigherBallot(m.promised);
      return;
    }
    if (this.role === 'leader' && m.ballot === this.ballot) this.heardFrom(from, m.committedUpTo);
  }

  /** A quorum accepted `slot` at our ballot: it is chosen. */
  private choose(slot: number): void {
    this.markChosen(slot);
    this.chosenToAnnounce.push(slot);
    this.advance();
  }

  // ---------------------------------------------------------------- follower

  /** A message from a leader at `ballot` (>= promised): follow it. */
  private follow(from: number, ballot: number): void {
    if (ballot > this.promised || this.role !== 'follower') {
      this.stepDown();
      this.promised = Math.max(this.promised, ballot);
    }
    this.leader = from;
    this.ballot = ballot;
    this.resetElectionTimer();
  }

  private onAccept(from: number, m: Extract<PaxosMessage<V, S>, { type: 'accept' }>): void {
    if (m.ballot < this.promised) {
      this.send(from, { type: 'acceptReply', ballot: m.ballot, slot: m.slot, ok: false, promised: this.promised, committedUpTo: this.committedUpTo });
      return;
    }
    this.follow(from, m.ballot);
    const e = this.entry(m.slot);
    if (m.slot >= this.logBase && e?.committed !== true && !(e !== undefined && e.ballot === m.ballot)) {
      this.setEntry(m.slot, { ballot: m.ballot, value: m.value, committed: false });
      // The record is the message as received: the host logs the bytes it arrived in.
      this.persist(m);
      this.promisedDurable = Math.max(this.promisedDurable, m.ballot);
    }
    this.learnCommitPoint(from, m.ballot, m.committedUpTo);
    this.send(from, { type: 'acceptReply', ballot: m.ballot, slot: m.slot, ok: true, promised: this.promised, committedUpTo: this.committedUpTo });
  }

  private onHeartbeat(from: number, m: Extract<PaxosMessage<V, S>, { type: 'heartbeat' }>): void {
    if (m.ballot < this.promised) {
      this.send(from, { type: 'heartbeatReply', ballot: m.ballot, ok: false, promised: this.promised, committedUpTo: this.committedUpTo });
      return;
    }
    this.follow(from, m.ballot);
    this.learnCommitPoint(from, m.ballot, m.committedUpTo);
    this.send(from, { type: 'heartbeatReply', ballot: m.ballot, ok: true, promised: this.promised, committedUpTo: this.committedUpTo });
  }

  /**
   * The leader of `ballot` says every slot below `upTo` is chosen. An entry accepted at that same
   * ballot holds that leader's value, so it is chosen; any other entry (or a missing one) must be
   * fetched.
   */
  private learnCommitPoint(from: number, ballot: number, upTo: number): void {
    for (let s = this.committedUpTo; s < upTo; s++) {
      const e = this.entry(s);
      if (e?.committed === true) continue;
      if (e === undefined || e.ballot !== ballot) {
        this.requestFetch(from, s, upTo);
        break;
      }
      this.markChosen(s);
    }
    this.advance();
  }

  private onCommit(m: Extract<PaxosMessage<V, S>, { type: 'commit' }>): void {
    if (m.slot < this.logBase || this.entry(m.slot)?.committed === true) return;
    this.setEntry(m.slot, { ballot: m.ballot, value: m.value, committed: false });
    this.persist({ type: 'accept', ballot: m.ballot, slot: m.slot, value: m.value, committedUpTo: this.committedUpTo });
    this.markChosen(m.slot);
    this.advance();
  }

  private onCommitShort(from: number, m: Extract<PaxosMessage<V, S>, { type: 'commitShort' }>): void {
    if (m.ballot >= this.promised && m.ballot === this.ballot) this.resetElectionTimer();
    const e = this.entry(m.slot);
    if (m.slot < this.logBase || e?.committed === true) return;
    if (e !== undefined && e.ballot === m.ballot && this.sm.count(e.value) === m.count) {
      this.markChosen(m.slot);
      this.advance();
    } else {
      this.requestFetch(from, m.slot, m.slot + 1);
    }
  }

  private requestFetch(from: number, fromSlot: number, toSlot: number): void {
    // One outstanding fetch at a time, re-sent if it goes unanswered.
    if (this.now - this.fetchTick < this.config.resendTicks && fromSlot < this.fetchUpTo) return;
    const upTo = Math.min(toSlot, fromSlot + this.config.fetchSlotsMax);
    this.fetchTick = this.now;
    this.fetchUpTo = upTo;
    this.send(from, { type: 'fetch', fromSlot, toSlot: upTo });
  }

  private onFetch(from: number, m: Extract<PaxosMessage<V, S>, { type: 'fetch' }>): void {
    let s = m.fromSlot;
    if (s < this.logBase) {
      this.send(from, { type: 'snapshot', upTo: this.executedUpTo, state: this.sm.snapshot() });
      s = this.executedUpTo;
    }
    const end = Math.min(m.toSlot, s + this.config.fetchSlotsMax);
    for (; s < end; s++) {
      const e = this.entry(s);
      if (e?.committed === true) this.send(from, { type: 'commit', ballot: e.ballot, slot: s, value: e.value });
    }
  }

  private onSnapshot(m: Extract<PaxosMessage<V, S>, { type: 'snapshot' }>): void {
    if (m.upTo <= this.executedUpTo) return;
    this.persist({ type: 'snapshot', upTo: m.upTo, state: m.state });
    this.installSnapshot(m.upTo, m.state);
    this.advance();
  }

  private installSnapshot(upTo: number, state: S): void {
    this.sm.restore(state);
    const keep = upTo - this.logBase;
    this.log = keep >= this.log.length ? [] : this.log.slice(keep);
    this.logBase = upTo;
    this.executedUpTo = upTo;
    this.committedUpTo = Math.max(this.committedUpTo, upTo);
    this.stepDownIfOutrun();
    for (const slot of this.inflight.keys()) if (slot < upTo) this.inflight.delete(slot);
    for (const slot of this.recovering) if (slot < upTo) this.recovering.delete(slot);
    if (this.role === 'leader' && this.recovering.size === 0 && !this.serving) this.startServing();
  }

  // ---------------------------------------------------------------- chosen slots

  private markChosen(slot: number): void {
    const e = this.entry(slot);
    assert(e !== undefined, `slot ${slot} chosen without a value`);
    if (e.committed) return;
    e.committed = true;
    // A commit mark can always be relearned from a quorum: nothing waits for it to be durable.
    this.out.persist({ type: 'commit', slot, ballot: e.ballot }, true);
    this.inflight.delete(slot);
    this.sm.onChosen(slot, e.value, this.role === 'leader');
    // However a recovered slot came to be chosen (our quorum, or a Commit from a replica that
    // learned it first), the leader serves once none is left open.
    if (this.recovering.delete(slot) && this.recovering.size === 0 && this.role === 'leader' && !this.serving) {
      this.startServing();
    }
  }

  /** Move the commit point over chosen slots, execute them in order, and drop old executed ones. */
  private advance(): void {
    while (this.entry(this.committedUpTo)?.committed === true) this.committedUpTo++;
    this.stepDownIfOutrun();
    while (this.executedUpTo < this.committedUpTo) {
      const e = this.entry(this.executedUpTo);
      assert(e !== undefined && e.committed, `slot ${this.executedUpTo} executes unchosen`);
      this.sm.apply(this.executedUpTo, e.value, this.role === 'leader');
      this.executedUpTo++;
    }
    const drop = this.executedUpTo - this.config.logRetainSlots - this.logBase;
    if (drop >= this.config.logRetainSlots) {
      this.log = this.log.slice(drop);
      this.logBase += drop;
    }
  }

  /**
   * A leader of ballot b whose commit point passed its next slot learned (from a Commit or a
   * snapshot, which unlike an Accept or a heartbeat make no replica follow their sender) that a
   * slot it never proposed in is chosen. A slot chosen at a ballot below b was accepted by a
   * quorum before it promised b, so the PrepareReplies reported it and the recovery put nextSlot
   * beyond it; b itself chose only slots below nextSlot. So a higher ballot chose that slot: a
   * quorum has promised it, b can choose nothing more, and this replica must stop leading (it
   * would otherwise propose into a chosen or dropped slot).
   */
  private stepDownIfOutrun(): void {
    if (this.role === 'leader' && this.committedUpTo > this.nextSlot) this.abdicate();
  }

  // ---------------------------------------------------------------- output

  private persistPromise(ballot: number): void {
    if (ballot <= this.promisedDurable) return;
    this.persist({ type: 'promise', ballot });
    this.promisedDurable = ballot;
  }

  private persist(record: PaxosRecord<V, S>): void {
    this.out.persist(record);
  }

  private send(to: number, msg: PaxosMessage<V, S>): void {
    this.out.send(replicaAddr(this.config.shard, to), msg);
  }

  // ---------------------------------------------------------------- checks

  checkInvariants(): void {
    assert(this.promised >= this.promisedDurable, 'a durable promise above the promise');
    assert(this.ballot <= this.promised, 'following a ballot above the promise');
    assert(this.logBase <= this.executedUpTo, 'log base above the executed point');
    assert(this.executedUpTo <= this.committedUpTo, 'executed beyond the commit point');
    assert(this.committedUpTo <= Math.max(this.logEnd, this.logBase), 'commit point beyond the log');
    for (let s = this.executedUpTo; s < this.logEnd; s++) {
      const e = this.entry(s);
      if (s < this.committedUpTo) assert(e?.committed === true, `slot ${s} below the commit point is not chosen`);
      else if (e !== undefined && !e.committed) assert(e.ballot <= this.promised, `slot ${s} accepted above the promise`);
    }
    if (this.role === 'leader') {
      assert(this.ballot === this.promised, 'a leader whose ballot is not its promise');
      assert(this.ballot % BALLOT_REPLICAS_MAX === this.config.replica, 'a leader leading with a ballot it does not own');
      assert(this.nextSlot >= this.committedUpTo, 'next slot below the commit point');
      for (const slot of this.recovering) {
        assert(slot >= this.committedUpTo && this.entry(slot)?.committed !== true, `recovered slot ${slot} is chosen but still counted as open`);
      }
      assert(this.serving === (this.recovering.size === 0), 'a leader serves exactly when its recovery is done');
      for (const slot of this.inflight.keys()) {
        const e = this.entry(slot);
        assert(e !== undefined && !e.committed && e.ballot === this.ballot, `in-flight slot ${slot} is not an open proposal`);
      }
    } else {
      assert(this.inflight.size === 0 && !this.serving, 'a non-leader with proposals in flight');
    }
  }
}
