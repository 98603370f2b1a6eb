/**
 * The client library: `connect` fetches the shard map from the master and hosts a
 * `ClientSession` core, which names each operation (client id, sequence number), routes it by
 * key to its shard's leader, follows "not leader" answers, retries with the same name, and gives
 * up with an unknown outcome after the timeout. This file only carries out what the core decides:
 * one `ClientConnection` per replica it talks to, ticks while the core has work (operations
 * outstanding, or timed-out ones it still asks about; an idle client arms no timer), map
 * refreshes from the master when a shard's leader is unknown or silent, injected link delays
 * (wide-area emulation), and the history recorder.
 *
 * Dispatch is chosen from the cluster's protocol: Multi-Paxos clusters get single dispatch (one
 * operation in flight; concurrent calls queue and go out one at a time, in issue order), or a
 * pipeline of `pipeline` operations when asked; MDL clusters get the core's multi-dispatch mode
 * (calls return at once, results resolve in issue order). Calls beyond the window wait here, in
 * issue order, before the core names them: the window is the backpressure.
 */
import { randomBytes } from 'node:crypto';
import type { HistoryOp } from '../check/history.js';
import { AssertionError } from '../protocol/common/assert.js';
import { addrKey, replicaAddr, type Address, type Completion, type Output, type ReplicaAddr } from '../protocol/common/core.js';
import type { OpInput, OpOutput } from '../protocol/common/kv.js';
import type { ProtocolName, ShardMap } from '../protocol/master/messages.js';
import { ClientSession, type DispatchMode, type SessionMessage } from '../protocol/client/session.js';
import { ClientConnection } from '../transport/client.js';
import { DelayLine, stderrLogger, type Logger } from '../transport/transport.js';
import { ConnectError, OperationFailedError, OutcomeUnknownError } from './errors.js';
import { HistoryRecorder, monotonicNs } from './history.js';
import { MasterClient } from './master.js';
import { CLIENT_WIRE, type ClientWireMessage } from './wire.js';

export const CLUSTER_DEFAULT = 'mdlin';
export const TIMEOUT_MS_DEFAULT = 10_000;
export const CONNECT_TIMEOUT_MS_DEFAULT = 5000;
/** Operations an MDL session keeps in flight unless told otherwise. */
export const MDL_WINDOW_DEFAULT = 64;
/** The core's clock while operations are outstanding. */
export const CLIENT_TICK_MS = 10;
/** A leader silent this long is tried again, or the next replica is. */
export const RETRY_MS = 300;
/** Map refreshes from the master, at most this often, each given this long. */
export const MAP_REFRESH_MIN_MS = 100;
export const MAP_REFRESH_TIMEOUT_MS = 1000;

export interface ConnectOptions {
  /** The master's `host:port`. */
  readonly master: string;
  /** The cluster id the master and replicas were started with (default `mdlin`). */
  readonly cluster?: string;
  /** Names this session in the replicas' session tables and in the history (default: random). */
  readonly clientId?: string;
  /** Per operation: after this long its outcome is unknown (default 10 s). */
  readonly timeoutMs?: number;
  /**
   * Keep up to this many operations in flight. Multi-Paxos clusters: default one at a time (single
   * dispatch). MDL clusters always dispatch many (default window 64), with results in issue order.
   */
  readonly pipeline?: number;
  /** Record every operation in this file, in HISTORY.md format (appended to). */
  readonly history?: string;
  /** How long `connect` waits for the master's map (default 5 s). */
  readonly connectTimeoutMs?: number;
  /** Connection problems worth a line (default: stderr). */
  readonly log?: Logger;
  /**
   * Injected one-way delay in ms for what this client sends to `replica` (wide-area emulation;
   * the replicas delay their replies themselves). Each link stays FIFO.
   */
  readonly linkDelayMs?: (replica: ReplicaAddr) => number;
  /**
   * A leader silent this long is asked again, or the next replica is (default 300 ms). Raise it
   * above the slowest expected answer when links are slow, or healthy leaders get abandoned.
   */
  readonly retryMs?: number;
}

export interface KvClient {
  readonly clientId: string;
  /** The value of `key`, or null when it is absent. */
  get(key: string): Promise<string | null>;
  put(key: string, value: string): Promise<void>;
  /** Sets `key` to `value` if it holds `expected` (null: if it is absent); whether it did. */
  cas(key: string, expected: string | null, value: string): Promise<boolean>;
  /** Appends `value` to the value of `key` ("" when absent). */
  append(key: string, value: string): Promise<void>;
  /**
   * Stops: operations not yet sent fail, operations in flight end with an unknown outcome, and
   * the history file is complete when it resolves.
   */
  close(): Promise<void>;
}

/** How a cluster of `protocol` is talked to. */
function dispatchFor(protocol: ProtocolName, pipeline: number | undefined): { mode: DispatchMode; window: number } {
  switch (protocol) {
    case 'paxos':
      return pipeline === undefined ? { mode: 'single', window: 1 } : { mode: 'pipeline', window: pipeline };
    case 'mdl':
      return { mode: 'mdl', window: pipeline ?? MDL_WINDOW_DEFAULT };
    case 'epaxos':
      throw new ConnectError(`the cluster runs ${protocol}, which this client library does not support yet`);
  }
}

function checkOptions(opts: ConnectOptions): void {
  const positive = (name: string, v: number | undefined, min: number): void => {
    if (v !== undefined && !(Number.isSafeInteger(v) && v >= min)) throw new RangeError(`${name} must be an integer >= ${min} (got ${v})`);
  };
  positive('timeoutMs', opts.timeoutMs, 2 * CLIENT_TICK_MS);
  positive('connectTimeoutMs', opts.connectTimeoutMs, 1);
  positive('pipeline', opts.pipeline, 1);
  positive('retryMs', opts.retryMs, CLIENT_TICK_MS);
  if (opts.clientId !== undefined && opts.clientId === '') throw new RangeError('clientId must not be empty');
}

/** Connects to the cluster whose master is at `opts.master`; rejects with a ConnectError when it is unreachable. */
export async function connect(opts: ConnectOptions): Promise<KvClient> {
  checkOptions(opts);
  const clientId = opts.clientId ?? `c-${randomBytes(6).toString('hex')}`;
  const cluster = opts.cluster ?? CLUSTER_DEFAULT;
  const log = opts.log ?? stderrLogger(`[mdlin client ${clientId}]`);
  const master = new MasterClient(opts.master, cluster, clientId, log);
  let map: ShardMap;
  try {
    map = await master.fetch(opts.connectTimeoutMs ?? CONNECT_TIMEOUT_MS_DEFAULT);
  } catch (err) {
    await master.close();
    throw err;
  }
  let dispatch: ReturnType<typeof dispatchFor>;
  try {
    dispatch = dispatchFor(map.protocol, opts.pipeline);
  } catch (err) {
    await master.close();
    throw err;
  }
  return new Client(clientId, cluster, opts, dispatch, master, map, log);
}

interface Call {
  readonly op: OpInput;
  /** When it was issued, for the history (0 without one). */
  readonly callNs: number;
  /** What the caller's promise resolves with, made from the operation's output (throws if it does not fit). */
  readonly result: (output: OpOutput) => unknown;
  readonly resolve: (value: unknown) => void;
  readonly reject: (err: Error) => void;
}

const noResult = (): void => undefined;

function valueResult(out: OpOutput): string | null {
  if (out === null || typeof out === 'string') return out;
  throw new AssertionError(`get returned ${JSON.stringify(out)}`);
}

function swappedResult(out: OpOutput): boolean {
  if (typeof out === 'boolean') return out;
  throw new AssertionError(`cas returned ${JSON.stringify(out)}`);
}

function describeOp(op: OpInput): string {
  const key = op.key.length > 40 ? `${JSON.stringify(op.key.slice(0, 37))}...` : JSON.stringify(op.key);
  return `${op.op} ${key}`;
}

class Client implements KvClient {
  private readonly session: ClientSession;
  /** Calls not yet handed to the core (beyond the window), in issue order. */
  private readonly waiting: Call[] = [];
  /** Calls the core has named, by sequence number. */
  private readonly inflight = new Map<number, Call>();
  private readonly conns = new Map<string, { readonly address: string; readonly conn: ClientConnection<typeof CLIENT_WIRE> }>();
  /** Per replica, messages held back by an injected link delay (only with `linkDelayMs`). */
  private readonly delayLines = new Map<string, DelayLine<SessionMessage>>();
  private readonly linkDelayMs: ((replica: ReplicaAddr) => number) | null;
  private readonly recorder: HistoryRecorder | null;
  private ticker: NodeJS.Timeout | null = null;
  private lastRefreshMs = -Infinity;
  /** Per shard, the ballot of the leader the map last named: an older map's leader is not news. */
  private readonly leaderBallots: number[];
  private refreshing = false;
  private closed = false;
  /** A `flush` of the core is due once the current synchronous run ends. */
  private flushQueued = false;

  constructor(
    readonly clientId: string,
    private readonly cluster: string,
    opts: ConnectOptions,
    private readonly dispatch: { readonly mode: DispatchMode; readonly window: number },
    private readonly master: MasterClient,
    private map: ShardMap,
    private readonly log: Logger,
  ) {
    const opTimeoutTicks = Math.ceil((opts.timeoutMs ?? TIMEOUT_MS_DEFAULT) / CLIENT_TICK_MS);
    this.session = new ClientSession({
      client: clientId,
      shards: map.shards,
      replicasPerShard: map.replicasPerShard,
      mode: dispatch.mode,
      windowMax: dispatch.window,
      retryTicks: Math.min(Math.ceil((opts.retryMs ?? RETRY_MS) / CLIENT_TICK_MS), opTimeoutTicks - 1),
      opTimeoutTicks,
    });
    this.leaderBallots = new Array<number>(map.shards).fill(-1);
    this.applyMap(map);
    this.recorder = opts.history === undefined ? null : new HistoryRecorder(opts.history, () => this.outstandingHistory());
    this.linkDelayMs = opts.linkDelayMs ?? null;
  }

  get(key: string): Promise<string | null> {
    return this.run({ op: 'get', key, value: null, expect: null }, valueResult);
  }

  put(key: string, value: string): Promise<void> {
    return this.run({ op: 'put', key, value, expect: null }, noResult);
  }

  cas(key: string, expected: string | null, value: string): Promise<boolean> {
    return this.run({ op: 'cas', key, value, expect: expected }, swappedResult);
  }

  append(key: string, value: string): Promise<void> {
    return this.run({ op: 'append', key, value, expect: null }, noResult);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.stopTicking();
    for (const call of this.waiting.splice(0)) {
      call.reject(new OperationFailedError(`${describeOp(call.op)} failed: the client was closed before it was sent`));
    }
    for (const [seq, call] of this.inflight) {
      this.recorder?.record(this.historyOp(seq, call, { seq, status: 'unknown', error: 'the client was closed' }, null));
      call.reject(new OutcomeUnknownError(`${describeOp(call.op)}: outcome unknown: the client was closed while it was in flight`));
    }
    this.inflight.clear();
    for (const line of this.delayLines.values()) line.clear();
    this.recorder?.close();
    await Promise.all([this.master.close(), ...[...this.conns.values()].map((c) => c.conn.close())]);
    this.conns.clear();
  }

  // ---------------------------------------------------------------- operations

  private run<T>(op: OpInput, result: (output: OpOutput) => T): Promise<T> {
    if (this.closed) return Promise.reject(new OperationFailedError(`${describeOp(op)} failed: the client is closed`));
    return new Promise<T>((resolve, reject) => {
      const callNs = this.recorder === null ? 0 : monotonicNs();
      this.waiting.push({ op, callNs, result, resolve: resolve as (value: unknown) => void, reject });
      this.pump();
    });
  }

  /** Hands waiting calls to the core while the window has room. */
  private pump(): void {
    while (this.waiting.length > 0 && this.session.outstanding < this.dispatch.window) {
      const call = this.waiting.shift() as Call;
      const { seq, outputs } = this.session.submit(call.op);
      this.inflight.set(seq, call);
      this.carryOut(outputs);
    }
    this.updateTicking();
  }

  /**
   * Ticks while the core has work. Asking in the background about operations that timed out
   * (MDL) does not keep the process alive; calls in flight do.
   */
  private updateTicking(): void {
    if (!this.session.needsTicks) return this.stopTicking();
    this.ticker ??= setInterval(() => this.onTick(), CLIENT_TICK_MS);
    if (this.inflight.size > 0) this.ticker.ref();
    else this.ticker.unref();
  }

  private onTick(): void {
    // What a tick sends (once flushed: requests wait for the flush) are retries: the leader was
    // silent or unknown, so the map may be stale.
    const outputs = [...this.session.tick(), ...this.session.flush()];
    if (outputs.length > 0) this.refreshMap();
    this.carryOut(outputs);
    this.settle();
  }

  private onReply(from: ReplicaAddr, msg: ClientWireMessage): void {
    if (this.closed) return;
    if (msg.type === 'reply') {
      if (msg.status === 'not_leader' && msg.leader < 0) this.refreshMap();
    } else if (msg.type === 'replies') {
      const { status, leader } = msg.replies;
      if (status.some((s, i) => s === 'not_leader' && (leader[i] ?? -1) < 0)) this.refreshMap();
    } else {
      return;
    }
    this.carryOut(this.session.step(from, msg));
    this.settle();
  }

  private settle(): void {
    for (const c of this.session.takeCompletions()) this.complete(c);
    this.pump();
  }

  private complete(c: Completion): void {
    const call = this.inflight.get(c.seq);
    if (call === undefined) throw new AssertionError(`completion of unknown operation ${c.seq}`);
    this.inflight.delete(c.seq);
    this.recorder?.record(this.historyOp(c.seq, call, c, monotonicNs()));
    switch (c.status) {
      case 'ok': {
        let value: unknown;
        try {
          value = call.result(c.output);
        } catch (err) {
          call.reject(err as Error);
          return;
        }
        call.resolve(value);
        return;
      }
      case 'fail':
        call.reject(new OperationFailedError(`${describeOp(call.op)} failed: ${c.error}`));
        return;
      case 'unknown':
        call.reject(new OutcomeUnknownError(`${describeOp(call.op)}: outcome unknown: ${c.error}`));
        return;
    }
  }

  private stopTicking(): void {
    if (this.ticker !== null) clearInterval(this.ticker);
    this.ticker = null;
  }

  // ---------------------------------------------------------------- history

  private historyOp(seq: number, call: Call, c: Completion, retNs: number | null): HistoryOp {
    const { op, key, value, expect } = call.op;
    const h: HistoryOp = { client: this.clientId, seq, op, key, call: call.callNs, ret: retNs, status: c.status, output: null };
    if (value !== null) h.value = value;
    if (op === 'cas') h.expect = expect;
    if (c.status === 'ok') h.output = c.output;
    else h.error = c.error;
    return h;
  }

  /** What the history must say about operations in flight if the process exits now. */
  private outstandingHistory(): HistoryOp[] {
    return [...this.inflight].map(([seq, call]) =>
      this.historyOp(seq, call, { seq, status: 'unknown', error: 'the process exited while it was in flight' }, null),
    );
  }

  // ---------------------------------------------------------------- network

  /**
   * Carries out the core's outputs, and has it flush once the current synchronous run (and the
   * microtasks it queued) ends: the requests of every call made meanwhile then leave together.
   */
  private carryOut(outputs: Output<SessionMessage, never>[]): void {
    for (const out of outputs) if (out.type === 'send') this.send(out.to, out.msg);
    if (this.flushQueued) return;
    this.flushQueued = true;
    queueMicrotask(() => {
      this.flushQueued = false;
      if (this.closed) return;
      for (const out of this.session.flush()) if (out.type === 'send') this.send(out.to, out.msg);
    });
  }

  private send(to: Address, msg: SessionMessage): void {
    const target = to.kind === 'leader' ? this.leaderOf(to.shard) : to.kind === 'replica' ? to : null;
    if (target === null) return;
    const delayMs = this.linkDelayMs?.(target) ?? 0;
    const line = this.delayLines.get(addrKey(target));
    if (delayMs > 0 || (line !== undefined && line.length > 0)) this.delayLine(target).push(msg, delayMs);
    else this.transmit(target, msg);
  }

  private delayLine(target: ReplicaAddr): DelayLine<SessionMessage> {
    const key = addrKey(target);
    let line = this.delayLines.get(key);
    if (line === undefined) {
      line = new DelayLine((msg) => {
        if (!this.closed) this.transmit(target, msg);
      });
      this.delayLines.set(key, line);
    }
    return line;
  }

  private transmit(target: ReplicaAddr, msg: SessionMessage): void {
    const conn = this.connectionTo(target);
    // No address known: like a lost message, the core's retry (and a map refresh) covers it.
    conn?.send(msg);
  }

  private leaderOf(shard: number): ReplicaAddr | null {
    const leader = this.map.leaders.find((l) => l.shard === shard)?.leader ?? -1;
    return leader >= 0 ? replicaAddr(shard, leader) : null;
  }

  private connectionTo(peer: ReplicaAddr): ClientConnection<typeof CLIENT_WIRE> | null {
    const key = addrKey(peer);
    const address = this.map.replicas.find((r) => r.shard === peer.shard && r.replica === peer.replica)?.address;
    if (address === undefined) return null;
    const known = this.conns.get(key);
    if (known !== undefined && known.address === address) return known.conn;
    void known?.conn.close();
    const conn = new ClientConnection({
      client: this.clientId,
      cluster: this.cluster,
      table: CLIENT_WIRE,
      server: peer,
      address,
      log: this.log,
      onMessage: (msg) => this.onReply(peer, msg),
    });
    this.conns.set(key, { address, conn });
    return conn;
  }

  private refreshMap(): void {
    const now = performance.now();
    if (this.refreshing || this.closed || now - this.lastRefreshMs < MAP_REFRESH_MIN_MS) return;
    this.refreshing = true;
    this.lastRefreshMs = now;
    this.master
      .fetch(MAP_REFRESH_TIMEOUT_MS)
      .then(
        (map) => this.applyMap(map),
        // The master is down: keep using the map we have; the cluster serves without it.
        () => undefined,
      )
      .finally(() => {
        this.refreshing = false;
      });
  }

  private applyMap(map: ShardMap): void {
    if (this.closed || map.shards !== this.map.shards || map.replicasPerShard !== this.map.replicasPerShard) return;
    this.map = map;
    for (const l of map.leaders) {
      if (l.leader < 0 || l.ballot <= (this.leaderBallots[l.shard] ?? Infinity)) continue;
      this.leaderBallots[l.shard] = l.ballot;
      this.session.setLeader(l.shard, l.leader);
    }
  }
}
