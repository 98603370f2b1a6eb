/**
 * The benchmark's workload: closed-loop clients, each issuing application requests of `fanout`
 * operations and the next request as soon as the last one completes. Under Multi-Paxos a
 * request's operations go one after another (single-dispatch: each waits for the previous
 * one's answer); under MDL they go out together (multi-dispatch) and the request completes when
 * all of them are delivered. Keys are uniform or Zipf over a fixed key space, placed on
 * distinct shards where there are enough (keys.ts); operations follow a get/put/cas/append mix;
 * written values are unique per operation (which keeps the history checker fast), padded to
 * the value size.
 */
import { assert } from '../protocol/common/assert.js';
import { OP_NAMES, type OpInput, type OpName } from '../protocol/common/kv.js';
import type { Rng } from '../protocol/common/rng.js';
import { OperationFailedError, OutcomeUnknownError } from '../client/errors.js';
import type { KvClient } from '../client/client.js';
import { keyDistribution, keyName, pickKeysOnDistinctShards, type KeyDistribution } from './keys.js';
import type { Protocol } from './model.js';
import { LatencyRecorder } from './stats.js';

/** Relative weights of the operations (need not sum to anything; not all 0). */
export type OpMix = Readonly<Record<OpName, number>>;

export const MIX_DEFAULT: OpMix = Object.freeze({ get: 45, put: 45, cas: 10, append: 0 });

/** Parses `get=50,put=40,cas=10` (operations left out weigh 0); throws a RangeError naming the problem. */
export function parseMix(text: string): OpMix {
  const mix: Record<OpName, number> = { get: 0, put: 0, cas: 0, append: 0 };
  for (const part of text.split(',')) {
    const m = /^\s*([a-z]+)\s*=\s*(\d+(?:\.\d+)?)\s*$/.exec(part);
    const op = OP_NAMES.find((o) => o === m?.[1]);
    if (m === null || op === undefined) throw new RangeError(`expected op=weight pairs of ${OP_NAMES.join(', ')}, e.g. get=50,put=40,cas=10; got ${JSON.stringify(part)}`);
    mix[op] = Number(m[2]);
  }
  if (OP_NAMES.every((o) => mix[o] === 0)) throw new RangeError('the operation mix weighs nothing');
  return mix;
}

export function formatMix(mix: OpMix): string {
  return OP_NAMES.filter((o) => mix[o] > 0)
    .map((o) => `${o}=${mix[o]}`)
    .join(',');
}

export interface WorkloadOptions {
  /** Operations per application request, 1..32. */
  readonly fanout: number;
  /** The cluster's shard count (operations of a request go to distinct shards). */
  readonly shards: number;
  readonly keys: number;
  /** Prepended to every key name (a run's cells use disjoint keys). */
  readonly keyPrefix: string;
  /** Zipf skew; 0 is uniform. */
  readonly zipf: number;
  readonly mix: OpMix;
  /** Written values are padded to this many characters (at least their unique tag). */
  readonly valueBytes: number;
}

export const FANOUT_MAX = 32;

/**
 * One client's requests. A cas expects the value this client last saw for its key (written or
 * read), so that some succeed; the first cas on a key expects it absent.
 */
export class RequestGenerator {
  private readonly keys: KeyDistribution;
  private readonly weightTotal: number;
  private readonly lastSeen = new Map<string, string | null>();
  private written = 0;

  constructor(
    private readonly opts: WorkloadOptions,
    private readonly rng: Rng,
    /** Makes this client's values unique among all clients'. */
    private readonly tag: string,
  ) {
    assert(Number.isInteger(opts.fanout) && opts.fanout >= 1 && opts.fanout <= FANOUT_MAX, `fanout must be 1..${FANOUT_MAX}, got ${opts.fanout}`);
    assert(Number.isInteger(opts.valueBytes) && opts.valueBytes >= 0, `valueBytes must be an integer >= 0, got ${opts.valueBytes}`);
    this.keys = keyDistribution(opts.keys, opts.zipf);
    this.weightTotal = OP_NAMES.reduce((sum, o) => sum + opts.mix[o], 0);
    assert(this.weightTotal > 0 && OP_NAMES.every((o) => opts.mix[o] >= 0), 'op mix weights must be >= 0, not all 0');
  }

  /** The operations of the next request, in issue order. */
  next(): OpInput[] {
    const draw = (rng: Rng): string => `${this.opts.keyPrefix}${keyName(this.keys.draw(rng))}`;
    const keys = pickKeysOnDistinctShards(this.rng, this.opts.fanout, this.opts.shards, draw);
    return keys.map((key) => this.operation(key));
  }

  /** What an operation on `key` returned or wrote, for later cas expectations. */
  observe(op: OpInput, output: string | boolean | null): void {
    if (op.op === 'get') this.lastSeen.set(op.key, output as string | null);
    else if (op.op === 'put' || (op.op === 'cas' && output === true)) this.lastSeen.set(op.key, op.value);
    else if (op.op === 'append') this.lastSeen.delete(op.key);
  }

  private operation(key: string): OpInput {
    const op = this.pickOp();
    if (op === 'get') return { op, key, value: null, expect: null };
    const value = this.value();
    return { op, key, value, expect: op === 'cas' ? (this.lastSeen.get(key) ?? null) : null };
  }

  private value(): string {
    const tag = `${this.tag}.${this.written++}`;
    return tag.length >= this.opts.valueBytes ? tag : tag.padEnd(this.opts.valueBytes, '.');
  }

  private pickOp(): OpName {
    let x = this.rng.next() * this.weightTotal;
    let last: OpName = 'get';
    for (const op of OP_NAMES) {
      if (this.opts.mix[op] === 0) continue;
      last = op;
      x -= this.opts.mix[op];
      if (x < 0) return op;
    }
    // Only rounding gets here: the last operation with weight.
    return last;
  }
}

/** Calls the client method for `op`. */
function issue(kv: KvClient, op: OpInput): Promise<string | boolean | null> {
  switch (op.op) {
    case 'get':
      return kv.get(op.key);
    case 'put':
      return kv.put(op.key, op.value as string).then(() => null);
    case 'cas':
      return kv.cas(op.key, op.expect, op.value as string);
    case 'append':
      return kv.append(op.key, op.value as string).then(() => null);
  }
}

/** What a cell's clients measured: only requests that started and ended inside the window count. */
export class CellStats {
  readonly latency = new LatencyRecorder();
  requests = 0;
  operations = 0;
  /** Operations that failed definitely, or with an unknown outcome (in any request, measured or not). */
  failed = 0;
  unknown = 0;
  /** Requests completed in total (for the progress line). */
  completed = 0;

  constructor(
    /** performance.now() at which the measured window opens and closes. */
    readonly windowStartMs: number,
    readonly windowEndMs: number,
  ) {}
}

/**
 * One closed-loop client until `stopMs` (performance.now()): Multi-Paxos requests one operation
 * after another, MDL requests all at once. A request with a failed or unknown operation counts
 * as an error, not as a latency sample.
 */
export async function runClient(kv: KvClient, protocol: Protocol, gen: RequestGenerator, stats: CellStats, stopMs: number): Promise<void> {
  while (performance.now() < stopMs) {
    const ops = gen.next();
    const startMs = performance.now();
    let ok = true;
    const one = async (op: OpInput): Promise<void> => {
      try {
        gen.observe(op, await issue(kv, op));
      } catch (err) {
        ok = false;
        if (err instanceof OutcomeUnknownError) stats.unknown++;
        else if (err instanceof OperationFailedError) stats.failed++;
        else throw err;
      }
    };
    if (protocol === 'mdl') await Promise.all(ops.map(one));
    else for (const op of ops) await one(op);
    const endMs = performance.now();
    stats.completed++;
    if (ok && startMs >= stats.windowStartMs && endMs <= stats.windowEndMs) {
      stats.requests++;
      stats.operations += ops.length;
      stats.latency.record(endMs - startMs);
    }
  }
}
