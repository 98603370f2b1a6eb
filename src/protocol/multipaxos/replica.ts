/**
 * A Multi-Paxos replica (PROTOCOLS.md §3): the shard's replicated log, whose slots hold batches of
 * client commands, executed in slot order against the key-value map. The leader batches the
 * requests that arrive in one input burst into one slot (at most `batchCommandsMax` commands),
 * keeps at most `pipelineSlotsMax` slots in flight, and queues at most `pendingCommandsMax`
 * commands beyond that; past that it answers `busy`.
 */
import { assert } from '../common/assert.js';
import type { ReplicaCore, ReplicaStatus, Sender } from '../common/core.js';
import { type Command, commandProblem, KvStore, type OpOutput, SessionTable } from '../common/kv.js';
import { commandsOf, type ClientMessage, type ReplyStatus } from '../common/messages.js';
import { Outbox } from '../common/outbox.js';
import { ReplyBatcher } from '../common/replies.js';
import { type PaxosConfig, PaxosEngine, type StateMachine } from '../common/paxos.js';
import type { Rng } from '../common/rng.js';
import { shardOf } from '../common/shardmap.js';
import type { KvState, MultiPaxosMessage, MultiPaxosRecord } from './messages.js';

export interface MultiPaxosConfig extends PaxosConfig {
  readonly shards: number;
  readonly batchCommandsMax: number;
  readonly pendingCommandsMax: number;
  /** Acknowledge put and append once chosen, before they execute (cas and get still wait). */
  readonly replyAtCommit: boolean;
  readonly sessionResultsPerClientMax: number;
  readonly sessionClientsMax: number;
}

export type MultiPaxosWire = MultiPaxosMessage | ClientMessage;

/** The key-value map and session table, driven by chosen slots. */
export class KvMachine implements StateMachine<Command[], KvState> {
  readonly kv = new KvStore();
  readonly sessions: SessionTable;
  private readonly replies = new ReplyBatcher();

  constructor(
    private readonly config: MultiPaxosConfig,
    private readonly out: Outbox<MultiPaxosWire, MultiPaxosRecord>,
    private readonly onLeadershipChange: (serving: boolean) => void,
  ) {
    this.sessions = new SessionTable(config.sessionResultsPerClientMax, config.sessionClientsMax);
  }

  noop(_firstGap: boolean): Command[] {
    return [];
  }

  count(value: Command[]): number {
    return value.length;
  }

  apply(_slot: number, cmds: Command[], leading: boolean): void {
    for (const cmd of cmds) {
      const seen = this.sessions.lookup(cmd.client, cmd.seq);
      switch (seen.kind) {
        case 'new': {
          const output = this.kv.apply(cmd);
          this.sessions.record(cmd.client, cmd.seq, output);
          if (leading && !this.repliedAtCommit(cmd)) this.reply(cmd, 'ok', output);
          break;
        }
        case 'done':
          if (leading) this.reply(cmd, 'ok', seen.output);
          break;
        case 'stale':
          if (leading) this.reply(cmd, 'stale', null);
          break;
        case 'failed':
          if (leading) this.reply(cmd, 'failed', null);
          break;
      }
    }
  }

  onChosen(_slot: number, cmds: Command[], leading: boolean): void {
    if (!leading || !this.config.replyAtCommit) return;
    for (const cmd of cmds) if (this.repliedAtCommit(cmd)) this.reply(cmd, 'ok', null);
  }

  private repliedAtCommit(cmd: Command): boolean {
    return this.config.replyAtCommit && (cmd.op === 'put' || cmd.op === 'append');
  }

  reply(cmd: Command, status: ReplyStatus, output: OpOutput, leader = this.config.replica): void {
    this.replies.add(cmd.client, cmd.seq, status, output, leader);
  }

  /** The replies of this call, one message per client (they leave after everything else it output). */
  sendReplies(): void {
    this.replies.sendAll(this.out, this.config.replicas === 1);
  }

  snapshot(): KvState {
    return { kv: this.kv.entries().map(([key, value]) => ({ key, value })), sessions: this.sessions.snapshot() };
  }

  restore(state: KvState): void {
    this.kv.load(state.kv.map((e) => [e.key, e.value] as const));
    this.sessions.load(state.sessions);
  }

  onLeadership(serving: boolean): void {
    this.onLeadershipChange(serving);
  }
}

export class MultiPaxosReplica implements ReplicaCore<MultiPaxosWire, MultiPaxosRecord> {
  private readonly out = new Outbox<MultiPaxosWire, MultiPaxosRecord>();
  readonly machine: KvMachine;
  readonly engine: PaxosEngine<Command[], KvState, MultiPaxosWire>;
  /** Requests waiting for a slot, oldest first (`pendingHead` marks the first not yet taken). */
  private pending: Command[] = [];
  private pendingHead = 0;

  constructor(
    readonly config: MultiPaxosConfig,
    rng: Rng,
    records: readonly MultiPaxosRecord[],
  ) {
    assert(config.batchCommandsMax >= 1 && config.pendingCommandsMax >= config.batchCommandsMax, 'batch and queue limits');
    assert(config.shards >= 1 && config.shard < config.shards, 'shard out of range');
    this.machine = new KvMachine(config, this.out, (serving) => {
      if (!serving) this.rejectPending();
    });
    this.engine = new PaxosEngine(config, this.machine, rng, this.out, records);
    this.out.take();
  }

  step(from: Sender, msg: MultiPaxosWire) {
    switch (msg.type) {
      case 'request':
        if (from.kind === 'client') this.onRequest(msg.cmd);
        break;
      case 'requests':
        if (from.kind === 'client') for (const cmd of commandsOf(msg)) this.onRequest(cmd);
        break;
      case 'reply':
      case 'replies':
        break;
      default:
        this.engine.onMessage(from, msg);
    }
    return this.outputs();
  }

  tick() {
    this.engine.tick();
    return this.outputs();
  }

  flush() {
    while (this.pendingHead < this.pending.length && this.engine.canPropose()) {
      const end = Math.min(this.pending.length, this.pendingHead + this.config.batchCommandsMax);
      this.engine.propose(this.pending.slice(this.pendingHead, end));
      this.pendingHead = end;
    }
    if (this.pendingHead === this.pending.length) {
      this.pending = [];
      this.pendingHead = 0;
    }
    this.engine.flush();
    return this.outputs();
  }

  private outputs() {
    this.machine.sendReplies();
    return this.out.take();
  }

  private onRequest(cmd: Command): void {
    const m = this.machine;
    if (commandProblem(cmd) !== null) return m.reply(cmd, 'bad_request', null);
    if (shardOf(cmd.key, this.config.shards) !== this.config.shard) return m.reply(cmd, 'wrong_shard', null);
    if (this.engine.role !== 'leader') return m.reply(cmd, 'not_leader', null, this.engine.leader);
    const seen = m.sessions.lookup(cmd.client, cmd.seq);
    switch (seen.kind) {
      case 'done':
        return m.reply(cmd, 'ok', seen.output);
      case 'stale':
        return m.reply(cmd, 'stale', null);
      case 'failed':
        return m.reply(cmd, 'failed', null);
      case 'new':
        if (this.pending.length - this.pendingHead >= this.config.pendingCommandsMax) return m.reply(cmd, 'busy', null);
        this.pending.push(cmd);
    }
  }

  /** A leader that stops leading tells every queued client where to go. */
  private rejectPending(): void {
    for (let i = this.pendingHead; i < this.pending.length; i++) {
      this.machine.reply(this.pending[i] as Command, 'not_leader', null, this.engine.leader);
    }
    this.pending = [];
    this.pendingHead = 0;
  }

  status(): ReplicaStatus {
    const e = this.engine;
    return { role: e.role, ballot: e.role === 'leader' ? e.ballot : e.promised, leader: e.leader, executed: e.executedUpTo };
  }

  checkInvariants(): void {
    this.engine.checkInvariants();
    assert(this.pendingHead <= this.pending.length, 'pending head beyond the queue');
    assert(this.pending.length - this.pendingHead <= this.config.pendingCommandsMax, 'pending queue over its limit');
  }

  stateDigest() {
    return { executed: this.engine.executedUpTo, entries: this.machine.kv.entries() };
  }

  compactRecords(): MultiPaxosRecord[] {
    return this.engine.compactRecords();
  }
}
