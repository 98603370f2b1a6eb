/**
 * A client library session as a pure core: names each operation (client id, sequence number),
 * routes it to its shard's leader, follows "not leader" answers, retries with the same name (the
 * replicas' session tables make a retry execute once), and gives up after a deadline with an
 * unknown outcome. The real client library (src/client) and the simulator both host it.
 *
 * Dispatch modes:
 * - `single` (the default, what linearizability assumes): one operation at a time, in issue order.
 * - `pipeline`: up to `windowMax` in flight, with no ordering promise beyond the protocol's.
 * - `mdl` (multi-dispatch linearizability, PROTOCOLS.md §5): up to `windowMax` in flight; each
 *   names its predecessor (the previous operation while that one is undelivered, otherwise the
 *   latest operation whose outcome was delivered as unknown and may still take effect) and a
 *   coordination request goes to the predecessor's shard; results are delivered strictly in issue
 *   order; a definite failure fails every later operation issued while it was outstanding.
 *   An operation that timed out is still asked after, in the background, until its shard says
 *   whether it took effect: until then it may still be ordered, so every later operation must be
 *   ordered after it. Chaining to it does that: an operation is ordered only after its predecessor
 *   is, and a successor of one that never takes effect fails. A definite failure of a later
 *   operation says nothing about its predecessors, which is why the session cannot forget one
 *   before its own shard answers.
 * Operations beyond the window wait, in issue order. In `single` and `pipeline` modes the requests
 * sent to one replica before the host's next `flush` leave together in one `requests` message.
 */
import { assert } from '../common/assert.js';
import type { ClientCore, Completion, Output, Sender } from '../common/core.js';
import { replicaAddr } from '../common/core.js';
import type { Command, OpInput } from '../common/kv.js';
import type { OpOutput } from '../common/kv.js';
import { batchEnds, requestsOf, type ClientMessage, type ReplyStatus } from '../common/messages.js';
import { Outbox } from '../common/outbox.js';
import { shardOf } from '../common/shardmap.js';

export type DispatchMode = 'single' | 'pipeline' | 'mdl';

/** What a session sends: plain requests, or MDL requests and coordination requests. */
export type SessionMessage =
  | ClientMessage
  | { type: 'mdlRequest'; cmd: Command; predShard: number; predSeq: number }
  | { type: 'coordRequest'; client: string; seq: number; succShard: number; succSeq: number };

export interface ClientSessionConfig {
  readonly client: string;
  readonly shards: number;
  readonly replicasPerShard: number;
  readonly mode: DispatchMode;
  /** Operations in flight at once (pipeline and mdl modes). */
  readonly windowMax: number;
  /** Send again (to the next replica when the leader is silent) after this long without an answer. */
  readonly retryTicks: number;
  /** Give up on an operation this long after it was first sent: its outcome is unknown. */
  readonly opTimeoutTicks: number;
}

interface OpState {
  readonly cmd: Command;
  readonly shard: number;
  dispatched: boolean;
  /** MDL: the predecessor named when dispatched (-1: none). */
  predSeq: number;
  predShard: number;
  target: number;
  firstSentTick: number;
  sentTick: number;
  resendAt: number;
  /** Known outcome, not yet delivered (MDL delivers in issue order). */
  result: Completion | null;
}

const commandChars = (c: Command): number => c.key.length + (c.value?.length ?? 0) + (c.expect?.length ?? 0);

export class ClientSession implements ClientCore<SessionMessage> {
  private readonly out = new Outbox<SessionMessage, never>();
  private nextSeq = 0;
  private now = 0;
  private readonly leaders: number[];
  /** Every operation not yet delivered, in issue order. */
  private readonly ops = new Map<number, OpState>();
  /** Operations not yet sent, in issue order, from `undispatchedHead` on. */
  private readonly undispatched: OpState[] = [];
  private undispatchedHead = 0;
  private inflight = 0;
  private completions: Completion[] = [];
  /** MDL: delivered operations that timed out and may still take effect, in issue order, until their shards answer. */
  private readonly unresolved = new Map<number, OpState>();
  /** Requests waiting for `flush`, per replica (`shard * replicasPerShard + replica`). */
  private readonly outgoing = new Map<number, Command[]>();

  constructor(readonly config: ClientSessionConfig) {
    assert(config.shards >= 1 && config.replicasPerShard >= 1, 'a cluster has shards and replicas');
    assert(config.windowMax >= 1 && config.retryTicks >= 1 && config.opTimeoutTicks > config.retryTicks, 'client limits');
    this.leaders = new Array<number>(config.shards).fill(0);
  }

  get outstanding(): number {
    return this.ops.size;
  }

  /** Whether `tick` has work: operations outstanding, or timed-out ones whose shards have not answered yet. */
  get needsTicks(): boolean {
    return this.ops.size > 0 || this.unresolved.size > 0;
  }

  private get window(): number {
    return this.config.mode === 'single' ? 1 : this.config.windowMax;
  }

  /** What the host learned from the master: `replica` leads `shard`. */
  setLeader(shard: number, replica: number): void {
    if (shard < this.config.shards && replica >= 0 && replica < this.config.replicasPerShard) this.leaders[shard] = replica;
  }

  submit(op: OpInput): { seq: number; outputs: Output<SessionMessage, never>[] } {
    const seq = this.nextSeq++;
    const cmd: Command = { client: this.config.client, seq, op: op.op, key: op.key, value: op.value, expect: op.expect };
    const st: OpState = {
      cmd,
      shard: shardOf(op.key, this.config.shards),
      dispatched: false,
      predSeq: -1,
      predShard: -1,
      target: 0,
      firstSentTick: -1,
      sentTick: -1,
      resendAt: 0,
      result: null,
    };
    this.ops.set(seq, st);
    this.undispatched.push(st);
    this.drain();
    return { seq, outputs: this.out.take() };
  }

  step(from: Sender, msg: SessionMessage) {
    if (from.kind === 'replica') {
      if (msg.type === 'reply') {
        this.onReply(from.shard, from.replica, msg.seq, msg.status, msg.output, msg.leader);
      } else if (msg.type === 'replies') {
        const r = msg.replies;
        for (let i = 0; i < r.seq.length; i++) {
          this.onReply(from.shard, from.replica, r.seq[i] as number, r.status[i] as ReplyStatus, r.output[i] as OpOutput, r.leader[i] as number);
        }
      }
    }
    return this.out.take();
  }

  tick() {
    this.now++;
    for (const st of this.ops.values()) {
      if (!st.dispatched || st.result !== null) continue;
      if (this.now - st.firstSentTick >= this.config.opTimeoutTicks) {
        this.settle(st, { seq: st.cmd.seq, status: 'unknown', error: 'timed out waiting for the shard leader' });
      } else if (this.now >= st.resendAt) {
        // Silent for a whole retry period: the leader may be gone; try the next replica.
        if (this.now - st.sentTick >= this.config.retryTicks) this.rotate(st);
        this.send(st);
      }
    }
    for (const st of this.unresolved.values()) {
      if (this.now < st.resendAt) continue;
      if (this.now - st.sentTick >= this.config.retryTicks) this.rotate(st);
      this.send(st);
    }
    this.drain();
    return this.out.take();
  }

  flush() {
    const perShard = this.config.replicasPerShard;
    for (const [target, cmds] of this.outgoing) {
      const to = replicaAddr(Math.floor(target / perShard), target % perShard);
      let start = 0;
      for (const end of batchEnds(cmds.length, (i) => commandChars(cmds[i] as Command))) {
        if (end - start === 1) this.out.send(to, { type: 'request', cmd: cmds[start] as Command });
        else this.out.send(to, requestsOf(this.config.client, start === 0 && end === cmds.length ? cmds : cmds.slice(start, end)));
        start = end;
      }
    }
    this.outgoing.clear();
    return this.out.take();
  }

  takeCompletions(): Completion[] {
    const c = this.completions;
    this.completions = [];
    return c;
  }

  private onReply(shard: number, replica: number, seq: number, status: ReplyStatus, output: OpOutput, leader: number): void {
    const asked = this.unresolved.get(seq);
    if (asked !== undefined && asked.shard === shard) return this.onResolution(asked, replica, status, leader);
    const st = this.ops.get(seq);
    if (st === undefined || !st.dispatched || st.result !== null || st.shard !== shard) return;
    switch (status) {
      case 'ok':
        this.leaders[shard] = replica;
        this.settle(st, { seq, status: 'ok', output });
        break;
      case 'not_leader':
      case 'busy':
        this.retry(st, replica, status, leader);
        break;
      case 'wrong_shard':
        this.settle(st, { seq, status: 'fail', error: 'the replica says the key belongs to another shard (shard maps disagree)' });
        break;
      case 'bad_request':
        this.settle(st, { seq, status: 'fail', error: 'the replica rejected the command as malformed' });
        break;
      case 'failed':
        this.settle(st, { seq, status: 'fail', error: 'the operation failed: its predecessor could not be ordered' });
        break;
      case 'stale':
        this.settle(st, { seq, status: 'unknown', error: 'the replica no longer remembers this operation' });
        break;
    }
    this.drain();
  }

  /** An answer about an operation that timed out: anything but "not leader" or "busy" settles its fate. */
  private onResolution(st: OpState, replica: number, status: ReplyStatus, leader: number): void {
    if (status === 'not_leader' || status === 'busy') return this.retry(st, replica, status, leader);
    if (status === 'ok') this.leaders[st.shard] = replica;
    this.unresolved.delete(st.cmd.seq);
  }

  /** Sends again after "not leader" (at once to the leader it names, else soon to the next replica) or "busy" (after a retry period). */
  private retry(st: OpState, replica: number, status: 'not_leader' | 'busy', leader: number): void {
    if (status === 'busy') {
      st.resendAt = this.now + this.config.retryTicks;
    } else if (leader >= 0 && leader !== replica && leader < this.config.replicasPerShard) {
      this.leaders[st.shard] = leader;
      this.send(st);
    } else {
      // Nobody knows the leader yet (an election is running): try the next replica soon.
      this.leaders[st.shard] = (replica + 1) % this.config.replicasPerShard;
      st.resendAt = this.now + 1;
    }
  }

  /** Records an outcome; in MDL mode a definite failure fails every later undelivered operation too. */
  private settle(st: OpState, c: Completion): void {
    st.result = c;
    if (st.dispatched) this.inflight--;
    if (this.config.mode !== 'mdl') {
      this.ops.delete(st.cmd.seq);
      this.completions.push(c);
      return;
    }
    if (c.status === 'fail') {
      for (const later of this.ops.values()) {
        if (later.cmd.seq <= st.cmd.seq || later.result !== null) continue;
        if (later.dispatched) this.inflight--;
        later.result = { seq: later.cmd.seq, status: 'fail', error: `an earlier operation (#${st.cmd.seq}) failed while this one was outstanding` };
      }
    }
    this.deliver();
  }

  /** MDL return ordering: results leave in issue order. */
  private deliver(): void {
    for (const st of this.ops.values()) {
      if (st.result === null) return;
      this.ops.delete(st.cmd.seq);
      this.completions.push(st.result);
      if (st.result.status === 'unknown' && st.dispatched) this.unresolved.set(st.cmd.seq, st);
    }
  }

  private drain(): void {
    while (this.inflight < this.window && this.undispatchedHead < this.undispatched.length) {
      const st = this.undispatched[this.undispatchedHead++] as OpState;
      // Failed while it waited (an earlier operation failed): never sent.
      if (st.result === null) this.dispatch(st);
    }
    if (this.undispatchedHead === this.undispatched.length) {
      this.undispatched.length = 0;
      this.undispatchedHead = 0;
    }
  }

  private dispatch(st: OpState): void {
    st.dispatched = true;
    st.firstSentTick = this.now;
    this.inflight++;
    if (this.config.mode === 'mdl') {
      const undelivered = this.ops.get(st.cmd.seq - 1);
      if (undelivered?.result?.status === 'fail') {
        // Issued while its predecessor, now failed, was outstanding: it fails too.
        return this.settle(st, { seq: st.cmd.seq, status: 'fail', error: `an earlier operation (#${st.cmd.seq - 1}) failed while this one was outstanding` });
      }
      const prev = undelivered ?? lastOf(this.unresolved);
      if (prev !== undefined) {
        st.predSeq = prev.cmd.seq;
        st.predShard = prev.shard;
        if (st.predShard !== st.shard) {
          this.out.send(replicaAddr(st.predShard, this.leaders[st.predShard] as number), {
            type: 'coordRequest',
            client: this.config.client,
            seq: st.predSeq,
            succShard: st.shard,
            succSeq: st.cmd.seq,
          });
        }
      }
    }
    this.send(st);
  }

  private send(st: OpState): void {
    st.target = this.leaders[st.shard] as number;
    st.sentTick = this.now;
    st.resendAt = this.now + this.config.retryTicks;
    if (this.config.mode === 'mdl') {
      this.out.send(replicaAddr(st.shard, st.target), { type: 'mdlRequest', cmd: st.cmd, predShard: st.predShard, predSeq: st.predSeq });
      return;
    }
    const target = st.shard * this.config.replicasPerShard + st.target;
    const cmds = this.outgoing.get(target);
    if (cmds === undefined) this.outgoing.set(target, [st.cmd]);
    else cmds.push(st.cmd);
  }

  private rotate(st: OpState): void {
    if (this.leaders[st.shard] === st.target) this.leaders[st.shard] = (st.target + 1) % this.config.replicasPerShard;
  }
}

function lastOf<V>(map: Map<number, V>): V | undefined {
  let last: V | undefined;
  for (const v of map.values()) last = v;
  return last;
}
