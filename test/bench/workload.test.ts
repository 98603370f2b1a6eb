/**
 * The benchmark workload: how a request is assembled (fanout, keys on distinct shards, the
 * operation mix, unique padded values, cas expectations), and how a closed-loop client issues it
 * under each protocol (Multi-Paxos one operation at a time, MDL all at once) and what it counts.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { KvClient } from '../../src/client/client.js';
import { OperationFailedError, OutcomeUnknownError } from '../../src/client/errors.js';
import type { OpInput } from '../../src/protocol/common/kv.js';
import { SeededRng } from '../../src/protocol/common/rng.js';
import { shardOf } from '../../src/protocol/common/shardmap.js';
import { CellStats, MIX_DEFAULT, parseMix, RequestGenerator, runClient, type WorkloadOptions } from '../../src/bench/workload.js';

const BASE: WorkloadOptions = { fanout: 4, shards: 3, keys: 1000, keyPrefix: 'p/', zipf: 0, mix: MIX_DEFAULT, valueBytes: 16 };

function generator(opts: Partial<WorkloadOptions> = {}, seed = 7): RequestGenerator {
  return new RequestGenerator({ ...BASE, ...opts }, new SeededRng(seed), 'c0');
}

describe('bench › workload › requests', () => {
  it('a request has fanout operations, on distinct shards while there are enough', () => {
    const gen = generator({ fanout: 3, shards: 3 });
    for (let i = 0; i < 50; i++) {
      const ops = gen.next();
      assert.equal(ops.length, 3);
      assert.equal(new Set(ops.map((o) => shardOf(o.key, 3))).size, 3);
    }
    const wide = generator({ fanout: 16, shards: 3 }).next();
    assert.equal(wide.length, 16);
    for (let i = 1; i < wide.length; i++) assert.notEqual(shardOf(wide[i]!.key, 3), shardOf(wide[i - 1]!.key, 3), 'consecutive operations on one shard');
  });

  it('keys carry the prefix and stay inside the key space', () => {
    for (const op of generator({ keys: 10, fanout: 8 }).next()) assert.match(op.key, /^p\/k\d$/);
  });

  it('the mix decides the operations: a get-only mix issues only gets, without values', () => {
    const ops = generator({ mix: parseMix('get=1'), fanout: 32 }).next();
    assert.ok(ops.every((o) => o.op === 'get' && o.value === null && o.expect === null));
    const counts = { get: 0, put: 0, cas: 0, append: 0 };
    const gen = generator({ mix: parseMix('get=50,put=30,cas=20'), fanout: 10 });
    for (let i = 0; i < 500; i++) for (const o of gen.next()) counts[o.op]++;
    assert.equal(counts.append, 0);
    assert.ok(counts.get > counts.put && counts.put > counts.cas && counts.cas > 0, JSON.stringify(counts));
  });

  it('written values are unique and padded to the value size', () => {
    const gen = generator({ mix: parseMix('put=1'), valueBytes: 24, fanout: 8 });
    const values = [...gen.next(), ...gen.next()].map((o) => o.value as string);
    assert.equal(new Set(values).size, 16);
    assert.ok(values.every((v) => v.length === 24 && v.startsWith('c0.')));
    const short = generator({ mix: parseMix('put=1'), valueBytes: 0, fanout: 1 }).next()[0]!;
    assert.equal(short.value, 'c0.0');
  });

  it('a cas expects the value last seen for its key, absent at first', () => {
    const gen = generator({ mix: parseMix('cas=1'), fanout: 1, keys: 1 });
    const first = gen.next()[0]!;
    assert.equal(first.expect, null);
    gen.observe(first, true);
    assert.equal(gen.next()[0]!.expect, first.value);
    gen.observe({ op: 'get', key: first.key, value: null, expect: null }, 'seen');
    assert.equal(gen.next()[0]!.expect, 'seen');
  });

  it('the same seed gives the same requests', () => {
    assert.deepEqual(generator({}, 3).next(), generator({}, 3).next());
    assert.notDeepEqual(generator({}, 3).next(), generator({}, 4).next());
  });

  it('parseMix rejects unknown operations and a mix that weighs nothing', () => {
    assert.deepEqual(parseMix('get=2, put=1'), { get: 2, put: 1, cas: 0, append: 0 });
    assert.throws(() => parseMix('delete=1'), RangeError);
    assert.throws(() => parseMix('get=0'), RangeError);
    assert.throws(() => parseMix('get'), RangeError);
  });
});

/** A client whose operations complete when the test says so; records how many were outstanding. */
class FakeKv implements KvClient {
  readonly clientId = 'fake';
  outstanding = 0;
  maxOutstanding = 0;
  issued: OpInput['op'][] = [];
  private readonly waiting: Array<() => void> = [];

  constructor(private readonly outcome: (n: number) => 'ok' | 'fail' | 'unknown' = () => 'ok') {}

  private op<T>(name: OpInput['op'], result: T): Promise<T> {
    const n = this.issued.length;
    this.issued.push(name);
    this.outstanding++;
    this.maxOutstanding = Math.max(this.maxOutstanding, this.outstanding);
    return new Promise((resolve, reject) => {
      this.waiting.push(() => {
        this.outstanding--;
        const o = this.outcome(n);
        if (o === 'ok') resolve(result);
        else reject(o === 'fail' ? new OperationFailedError('failed') : new OutcomeUnknownError('unknown'));
      });
    });
  }

  /** Completes everything outstanding, repeatedly, until the loop has stopped issuing. */
  async drive(until: Promise<void>): Promise<void> {
    let done = false;
    void until.then(() => (done = true));
    while (!done) {
      for (const complete of this.waiting.splice(0)) complete();
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  get = (key: string) => this.op('get', key === '' ? null : 'v');
  put = () => this.op('put', undefined);
  cas = () => this.op('cas', true);
  append = () => this.op('append', undefined);
  close = async () => undefined;
}

describe('bench › workload › closed-loop client', () => {
  const opts = { ...BASE, fanout: 5, shards: 5 };

  it('Multi-Paxos sends a request one operation at a time; MDL sends all of it at once', async () => {
    for (const [protocol, expected] of [['paxos', 1], ['mdl', 5]] as const) {
      const kv = new FakeKv();
      const stats = new CellStats(0, Infinity);
      const stopMs = performance.now() + 30;
      await kv.drive(runClient(kv, protocol, new RequestGenerator(opts, new SeededRng(1), 'c'), stats, stopMs));
      assert.equal(kv.maxOutstanding, expected, protocol);
      assert.ok(stats.requests > 0);
      assert.equal(stats.operations, stats.requests * 5);
      assert.equal(kv.issued.length, stats.completed * 5);
    }
  });

  it('requests outside the window and requests with failed or unknown operations are not latency samples', async () => {
    const outside = new CellStats(-2, -1);
    const kv1 = new FakeKv();
    await kv1.drive(runClient(kv1, 'mdl', new RequestGenerator(opts, new SeededRng(1), 'c'), outside, performance.now() + 20));
    assert.ok(outside.completed > 0);
    assert.equal(outside.requests, 0);
    assert.equal(outside.latency.count, 0);

    const stats = new CellStats(0, Infinity);
    const kv2 = new FakeKv((n) => (n === 2 ? 'fail' : n === 7 ? 'unknown' : 'ok'));
    await kv2.drive(runClient(kv2, 'mdl', new RequestGenerator(opts, new SeededRng(1), 'c'), stats, performance.now() + 20));
    assert.equal(stats.failed, 1);
    assert.equal(stats.unknown, 1);
    assert.equal(stats.requests, stats.completed - 2);
    assert.equal(stats.latency.count, stats.requests);
  });
});
