/**
 * Drives client cores in the simulator and records what they saw as a history (HISTORY.md).
 * Clients are driven closed-loop (each keeps up to `outstandingMax` operations in flight and
 * issues the next one when one finishes) or by script (this operation at that time). Written
 * values are unique per operation (`<client>:<n>`), which makes a checker's job much easier.
 */
import { assert } from '../protocol/common/assert.js';
import type { Completion } from '../protocol/common/core.js';
import type { OpInput, OpName } from '../protocol/common/kv.js';
import type { Rng } from '../protocol/common/rng.js';
import type { HistoryOp } from '../protocol/common/history.js';

/** History times are nanoseconds; the simulator's clock counts milliseconds. */
export const NS_PER_MS = 1_000_000;
import type { ClientFactory, ClientListener, Simulator } from './simulator.js';

/** Relative weights of the operations (need not sum to 1). */
export type OpMix = Readonly<Record<OpName, number>>;

export interface OpGeneratorConfig {
  /** Keys are `k0` .. `k<keys-1>`. */
  readonly keys: number;
  readonly mix: OpMix;
}

export const DEFAULT_OPS: OpGeneratorConfig = { keys: 5, mix: { get: 4, put: 3, append: 2, cas: 1 } };

/** Random operations over a small key space; a cas expects the last value the generator knows for its key. */
export class OpGenerator {
  private readonly lastKnown = new Map<string, string | null>();
  private readonly weightTotal: number;

  constructor(
    private readonly rng: Rng,
    private readonly config: OpGeneratorConfig,
  ) {
    assert(Number.isSafeInteger(config.keys) && config.keys >= 1, 'an op generator needs at least one key');
    this.weightTotal = Object.values(config.mix).reduce((a, b) => a + b, 0);
    assert(this.weightTotal > 0 && Object.values(config.mix).every((w) => w >= 0), 'op mix weights must be >= 0, not all 0');
  }

  /** The operation for a client's `n`th generated op; `value` is `<client>:<n>`. */
  next(client: string, n: number): OpInput {
    const key = `k${this.rng.int(this.config.keys)}`;
    const value = `${client}:${n}`;
    const op = this.pickOp();
    switch (op) {
      case 'get':
        return { op, key, value: null, expect: null };
      case 'put':
        this.lastKnown.set(key, value);
        return { op, key, value, expect: null };
      case 'append':
        return { op, key, value, expect: null };
      case 'cas':
        return { op, key, value, expect: this.lastKnown.get(key) ?? null };
    }
  }

  /** A value read from `key` (makes later cas operations on it likelier to succeed). */
  observe(key: string, value: string | null): void {
    this.lastKnown.set(key, value);
  }

  private pickOp(): OpName {
    let x = this.rng.next() * this.weightTotal;
    for (const op of ['get', 'put', 'append', 'cas'] as const) {
      x -= this.config.mix[op];
      if (x < 0) return op;
    }
    return 'cas';
  }
}

export interface ClosedLoopConfig {
  /** Operations each client keeps in flight (1: single-dispatch). */
  readonly outstandingMax: number;
  /** Pause between an operation finishing and the next one issued in its place. Default 0. */
  readonly thinkMs?: number;
  /** When the clients start. Default now. */
  readonly startMs?: number;
  /** No operation is issued from this time on. */
  readonly stopMs: number;
  /** Default unbounded. */
  readonly opsPerClientMax?: number;
}

export interface WorkloadStats {
  submitted: number;
  ok: number;
  fail: number;
  /** Reported unknown by the client core (outstanding operations are not counted). */
  unknown: number;
  outstanding: number;
}

interface ClientState {
  readonly id: string;
  readonly records: HistoryOp[];
  /** Seq → record of operations without an outcome yet. */
  readonly pending: Map<number, HistoryOp>;
  generated: number;
}

export class Workload<M, R> {
  readonly clients: readonly string[];
  private readonly states = new Map<string, ClientState>();
  /** Every record, in the order the operations were issued. */
  private readonly issued: HistoryOp[] = [];
  private readonly generator: OpGenerator;
  private loop: Required<ClosedLoopConfig> | null = null;

  constructor(
    private readonly sim: Simulator<M, R>,
    factory: ClientFactory<M>,
    clients: number | readonly string[],
    ops: OpGeneratorConfig = DEFAULT_OPS,
  ) {
    this.clients = typeof clients === 'number' ? Array.from({ length: clients }, (_, i) => `c${i}`) : [...clients];
    this.generator = new OpGenerator(sim.forkRng('workload'), ops);
    for (const id of this.clients) {
      const state: ClientState = { id, records: [], pending: new Map(), generated: 0 };
      this.states.set(id, state);
      sim.addClient(id, factory, this.listenerFor(state));
    }
  }

  /** Each client keeps `outstandingMax` operations in flight from `startMs` until `stopMs`. */
  closedLoop(config: ClosedLoopConfig): void {
    assert(this.loop === null, 'the closed loop is already running');
    assert(Number.isSafeInteger(config.outstandingMax) && config.outstandingMax >= 1, 'outstandingMax must be >= 1');
    const loop: Required<ClosedLoopConfig> = {
      outstandingMax: config.outstandingMax,
      thinkMs: config.thinkMs ?? 0,
      startMs: config.startMs ?? this.sim.nowMs,
      stopMs: config.stopMs,
      opsPerClientMax: config.opsPerClientMax ?? Infinity,
    };
    assert(loop.thinkMs >= 0 && loop.stopMs >= loop.startMs, 'closed loop: thinkMs >= 0 and stopMs >= startMs');
    this.loop = loop;
    for (const state of this.states.values()) {
      for (let i = 0; i < loop.outstandingMax; i++) this.sim.at(loop.startMs, () => this.issueNext(state));
    }
  }

  /** Issues `op` on `client` at `atMs`. */
  submitAt(client: string, atMs: number, op: OpInput): void {
    assert(this.states.has(client), `no client ${client} in this workload`);
    this.sim.at(atMs, () => this.sim.submit(client, op));
  }

  /**
   * The history so far, in issue order. Operations still outstanding are `unknown` with a null
   * `ret`: the run ended before the client learned their outcome.
   */
  history(): HistoryOp[] {
    return this.issued.map((r) =>
      r.ret === null ? { ...r, status: 'unknown', output: null, error: 'outstanding at the end of the run' } : { ...r },
    );
  }

  get stats(): WorkloadStats {
    const s: WorkloadStats = { submitted: this.issued.length, ok: 0, fail: 0, unknown: 0, outstanding: 0 };
    for (const r of this.issued) {
      if (r.ret === null) s.outstanding++;
      else s[r.status]++;
    }
    return s;
  }

  /** Operations that completed `ok` at or after `ms` (liveness: did the cluster make progress?). */
  okSince(ms: number): number {
    const from = ms * NS_PER_MS;
    return this.issued.filter((r) => r.status === 'ok' && r.ret !== null && r.ret >= from).length;
  }

  private issueNext(state: ClientState): void {
    const loop = this.loop;
    if (loop === null || this.sim.nowMs >= loop.stopMs) return;
    if (state.generated >= loop.opsPerClientMax || state.pending.size >= loop.outstandingMax) return;
    const op = this.generator.next(state.id, state.generated++);
    this.sim.submit(state.id, op);
  }

  private listenerFor(state: ClientState): ClientListener {
    return {
      submitted: (seq, op) => {
        assert(seq === state.records.length, `${state.id} issued seq ${seq}, expected ${state.records.length}`);
        const record: HistoryOp = {
          client: state.id,
          seq,
          op: op.op,
          key: op.key,
          ...(op.value === null ? {} : { value: op.value }),
          ...(op.op === 'cas' ? { expect: op.expect } : {}),
          call: this.sim.nowMs * NS_PER_MS,
          ret: null,
          status: 'unknown',
          output: null,
        };
        state.records.push(record);
        state.pending.set(seq, record);
        this.issued.push(record);
      },
      completed: (completions) => {
        for (const c of completions) this.complete(state, c);
        const loop = this.loop;
        if (loop === null) return;
        for (let i = 0; i < completions.length; i++) this.sim.after(loop.thinkMs, () => this.issueNext(state));
      },
    };
  }

  private complete(state: ClientState, c: Completion): void {
    const record = state.pending.get(c.seq);
    assert(record !== undefined, `${state.id} completed seq ${c.seq}, which is not outstanding`);
    state.pending.delete(c.seq);
    record.ret = this.sim.nowMs * NS_PER_MS;
    record.status = c.status;
    if (c.status === 'ok') {
      assert(outputFits(record.op, c.output), `${state.id}#${c.seq} ${record.op} returned ${JSON.stringify(c.output)}`);
      record.output = c.output;
      if (record.op === 'get') this.generator.observe(record.key, c.output as string | null);
    } else {
      record.error = c.error;
    }
  }
}

function outputFits(op: OpName, output: string | boolean | null): boolean {
  switch (op) {
    case 'get':
      return output === null || typeof output === 'string';
    case 'cas':
      return typeof output === 'boolean';
    case 'put':
    case 'append':
      return output === null;
  }
}
