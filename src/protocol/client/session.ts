/**
 * A client library session as a pure core: names each operation (client id, sequence number),
 * routes it to its shard's leader, follows "not leader" answers, retries with the same name (the
 * replicas' session tables make a retry execute once), and gives up after a deadline with an
 * unknown outcome. The real client library (src/client) and the simulator both host it.
 *
 * Dispatch: `single` (the default, what linearizability assumes) sends one operation at a time in
 * issue order; `pipeline` keeps up to `windowMax` in flight with no ordering promise beyond the
 * protocol's. Operations beyond the window wait in issue order.
 */
import { assert } from '../common/assert.js';
import type { ClientCore, Completion, Output, Sender } from '../common/core.js';
import { replicaAddr } from '../common/core.js';
import type { Command, OpInput } from '../common/kv.js';
import type { ClientMessage, Reply } from '../common/messages.js';
import { Outbox } from '../common/outbox.js';
import { shardOf } from '../common/shardmap.js';

export interface ClientSessionConfig {
  readonly client: string;
  readonly shards: number;
  readonly replicasPerShard: number;
  readonly mode: 'single' | 'pipeline';
  /** Operations in flight at once in pipeline mode. */
  readonly windowMax: number;
  /** Send again (to the next replica when the leader is silent) after this long without an answer. */
  readonly retryTicks: number;
  /** Give up on an operation this long after it was sent first: its outcome is unknown. */
  readonly opTimeoutTicks: number;
}

interface OpState {
  readonly cmd: Command;
  readonly shard: number;
  target: number;
  firstSentTick: number;
  sentTick: number;
  resendAt: number;
}

export class ClientSession implements ClientCore<ClientMessage> {
  private readonly out = new Outbox<ClientMessage, never>();
  private nextSeq = 0;
  private now = 0;
  private readonly leaders: number[];
  private readonly queued: OpState[] = [];
  private queuedHead = 0;
  private readonly inflight = new Map<number, OpState>();
  private completions: Completion[] = [];

  constructor(readonly config: ClientSessionConfig) {
    assert(config.shards >= 1 && config.replicasPerShard >= 1, 'a cluster has shards and replicas');
    assert(config.windowMax >= 1 && config.retryTicks >= 1 && config.opTimeoutTicks > config.retryTicks, 'client limits');
    this.leaders = new Array<number>(config.shards).fill(0);
  }

  get outstanding(): number {
    return this.inflight.size + this.queued.length - this.queuedHead;
  }

  private get window(): number {
    return this.config.mode === 'single' ? 1 : this.config.windowMax;
  }

  /** What the host learned from the master: `replica` leads `shard`. */
  setLeader(shard: number, replica: number): void {
    if (shard < this.config.shards && replica >= 0 && replica < this.config.replicasPerShard) this.leaders[shard] = replica;
  }

  submit(op: OpInput): { seq: number; outputs: Output<ClientMessage, never>[] } {
    const seq = this.nextSeq++;
    const cmd: Command = { client: this.config.client, seq, ...op };
    const st: OpState = { cmd, shard: shardOf(op.key, this.config.shards), target: 0, firstSentTick: -1, sentTick: -1, resendAt: 0 };
    if (this.inflight.size < this.window && this.queuedHead === this.queued.length) this.dispatch(st);
    else this.queued.push(st);
    return { seq, outputs: this.out.take() };
  }

  step(from: Sender, msg: ClientMessage) {
    if (msg.type === 'reply' && from.kind === 'replica') this.onReply(from.shard, from.replica, msg);
    return this.out.take();
  }

  tick() {
    this.now++;
    for (const st of this.inflight.values()) {
      if (this.now - st.firstSentTick >= this.config.opTimeoutTicks) {
        this.complete(st, { seq: st.cmd.seq, status: 'unknown', error: 'timed out waiting for the shard leader' });
      } else if (this.now >= st.resendAt) {
        // Silent for a whole retry period: the leader may be gone; try the next replica.
        if (this.now - st.sentTick >= this.config.retryTicks) this.rotate(st);
        this.send(st);
      }
    }
    this.drain();
    return this.out.take();
  }

  flush() {
    return this.out.take();
  }

  takeCompletions(): Completion[] {
    const c = this.completions;
    this.completions = [];
    return c;
  }

  private onReply(shard: number, replica: number, r: Reply): void {
    const st = this.inflight.get(r.seq);
    if (st === undefined || st.shard !== shard) return;
    const seq = r.seq;
    switch (r.status) {
      case 'ok':
        this.leaders[shard] = replica;
        this.complete(st, { seq, status: 'ok', output: r.output });
        break;
      case 'not_leader':
        if (r.leader >= 0 && r.leader !== replica && r.leader < this.config.replicasPerShard) {
          this.leaders[shard] = r.leader;
          this.send(st);
        } else {
          // Nobody knows the leader yet (an election is running): try the next replica soon.
          this.leaders[shard] = (replica + 1) % this.config.replicasPerShard;
          st.resendAt = this.now + 1;
        }
        break;
      case 'busy':
        st.resendAt = this.now + this.config.retryTicks;
        break;
      case 'wrong_shard':
        this.complete(st, { seq, status: 'fail', error: 'the replica says the key belongs to another shard (shard maps disagree)' });
        break;
      case 'bad_request':
        this.complete(st, { seq, status: 'fail', error: 'the replica rejected the command as malformed' });
        break;
      case 'failed':
        this.complete(st, { seq, status: 'fail', error: 'the operation failed' });
        break;
      case 'stale':
        this.complete(st, { seq, status: 'unknown', error: 'the replica no longer remembers this operation' });
        break;
    }
    this.drain();
  }

  private dispatch(st: OpState): void {
    st.firstSentTick = this.now;
    this.inflight.set(st.cmd.seq, st);
    this.send(st);
  }

  private send(st: OpState): void {
    st.target = this.leaders[st.shard] as number;
    st.sentTick = this.now;
    st.resendAt = this.now + this.config.retryTicks;
    this.out.send(replicaAddr(st.shard, st.target), { type: 'request', cmd: st.cmd });
  }

  private rotate(st: OpState): void {
    if (this.leaders[st.shard] === st.target) this.leaders[st.shard] = (st.target + 1) % this.config.replicasPerShard;
  }

  private complete(st: OpState, c: Completion): void {
    this.inflight.delete(st.cmd.seq);
    this.completions.push(c);
  }

  private drain(): void {
    while (this.inflight.size < this.window && this.queuedHead < this.queued.length) {
      this.dispatch(this.queued[this.queuedHead++] as OpState);
    }
    if (this.queuedHead === this.queued.length && this.queuedHead > 0) {
      this.queued.length = 0;
      this.queuedHead = 0;
    }
  }
}
