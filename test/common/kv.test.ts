import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { KvStore, SessionTable, type Command } from '../../src/protocol/common/kv.js';
import { Codec } from '../../src/transport/codec.js';
import { WIRE_MESSAGES } from '../../src/protocol/wire.js';

const cmd = (op: Command['op'], key: string, value: string | null, expect: string | null = null): Command => ({ client: 'c', seq: 0, op, key, value, expect });

describe('common › key-value state machine', () => {
  it('implements get, put, append and cas as HISTORY.md specifies', () => {
    const kv = new KvStore();
    assert.equal(kv.apply(cmd('get', 'k', null)), null);
    assert.equal(kv.apply(cmd('append', 'k', 'a')), null);
    assert.equal(kv.apply(cmd('append', 'k', 'b')), null);
    assert.equal(kv.apply(cmd('get', 'k', null)), 'ab');
    assert.equal(kv.apply(cmd('cas', 'k', 'x', 'nope')), false);
    assert.equal(kv.apply(cmd('cas', 'k', 'x', 'ab')), true);
    assert.equal(kv.apply(cmd('cas', 'n', 'y', null)), true, 'null expects absence');
    assert.equal(kv.apply(cmd('cas', 'n', 'z', null)), false);
    assert.equal(kv.apply(cmd('put', 'k', 'p')), null);
    assert.deepEqual(kv.entries(), [['k', 'p'], ['n', 'y']]);
  });
});

describe('common › session table', () => {
  it('a command executes once: a repeat finds its first result', () => {
    const t = new SessionTable(16, 4);
    assert.deepEqual(t.lookup('a', 0), { kind: 'new' });
    t.record('a', 0, 'v');
    assert.deepEqual(t.lookup('a', 0), { kind: 'done', output: 'v' });
    t.recordFailed('a', 1);
    assert.deepEqual(t.lookup('a', 1), { kind: 'failed' });
  });

  it('remembers results out of order and forgets only seqs a whole window old, which become stale', () => {
    const t = new SessionTable(8, 4);
    for (const seq of [3, 0, 2, 1, 7, 5]) t.record('a', seq, `r${seq}`);
    for (const seq of [0, 1, 2, 3, 5, 7]) assert.deepEqual(t.lookup('a', seq), { kind: 'done', output: `r${seq}` });
    assert.deepEqual(t.lookup('a', 4), { kind: 'new' });
    for (let seq = 8; seq < 20; seq++) t.record('a', seq, `r${seq}`);
    assert.deepEqual(t.lookup('a', 4), { kind: 'stale' }, 'never executed, and now older than the window');
    assert.deepEqual(t.lookup('a', 2), { kind: 'stale' });
    assert.deepEqual(t.lookup('a', 19), { kind: 'done', output: 'r19' });
    assert.deepEqual(t.lookup('a', 20), { kind: 'new' });
  });

  it('keeps at most clientsMax clients, dropping the least recently active', () => {
    const t = new SessionTable(4, 2);
    t.record('a', 0, null);
    t.record('b', 0, null);
    t.record('c', 0, null);
    assert.equal(t.clientCount, 2);
    assert.deepEqual(t.lookup('a', 0), { kind: 'new' });
    assert.deepEqual(t.lookup('c', 0), { kind: 'done', output: null });
  });

  it('a snapshot restores the same answers', () => {
    const t = new SessionTable(8, 8);
    for (let seq = 0; seq < 30; seq++) if (seq % 7 === 3) t.recordFailed('a', seq); else t.record('a', seq, seq % 2 === 0 ? `v${seq}` : seq % 3 === 0);
    const u = new SessionTable(8, 8);
    u.load(t.snapshot());
    for (let seq = 0; seq < 32; seq++) assert.deepEqual(u.lookup('a', seq), t.lookup('a', seq), `seq ${seq}`);
  });
});

describe('common › key-value state machine › memory', () => {
  it('keeps no part of the decoded batch a stored key, value or client id came from', () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const codec = Codec.of(WIRE_MESSAGES);
    const kv = new KvStore();
    const sessions = new SessionTable(8, 1024);
    const batch = (b: number): Command[] =>
      Array.from({ length: 1000 }, (_, i) => ({ client: `client-${b}-${String(i).padStart(8, '0')}`, seq: i, op: i % 2 === 0 ? 'put' : 'append', key: `key-${b}-${String(i).padStart(12, '0')}`, value: `value-${String(b * 1000 + i).padStart(20, '0')}`, expect: null }));
    gc();
    const before = process.memoryUsage().heapUsed;
    for (let b = 0; b < 500; b++) {
      const decoded = codec.decode(codec.encode({ type: 'accept', ballot: 1, slot: b, value: batch(b), committedUpTo: 0 }));
      assert.ok(decoded.ok && decoded.msg.type === 'accept');
      const first = (decoded.msg.value as Command[])[0] as Command;
      kv.apply(first);
      sessions.record(first.client, first.seq, null);
    }
    gc();
    const grownMiB = (process.memoryUsage().heapUsed - before) / 1048576;
    // Measured: about 11 MiB when each stored string is a slice of its batch, about 1 when not.
    assert.ok(grownMiB < 5, `the heap grew by ${grownMiB.toFixed(1)} MiB for 500 stored entries`);
  });
});
