/**
 * The MDL state machine's rules for stale decisions: Paxos may choose a value its leader proposed
 * long ago, after newer leaders handled the same operation. Such items must change nothing.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Command } from '../../src/protocol/common/kv.js';
import { Outbox } from '../../src/protocol/common/outbox.js';
import { MdlMachine, marker, opId } from '../../src/protocol/mdl/machine.js';
import type { MdlItem, MdlRecord, MdlWire } from '../../src/protocol/mdl/messages.js';

const put = (seq: number, key: string, value: string): Command => ({ client: 'c', seq, op: 'put', key, value, expect: null });

function machine() {
  const failed: string[] = [];
  const m = new MdlMachine(0, false, { sessionResultsPerClientMax: 64, sessionClientsMax: 8, recentTsMax: 64 }, new Outbox<MdlWire, MdlRecord>(), {
    committed: () => undefined,
    ordered: () => undefined,
    failed: (id) => failed.push(id),
    recovered: () => undefined,
    leadership: () => undefined,
  });
  let slot = 0;
  const apply = (...items: MdlItem[]) => m.apply(slot++, items, false);
  return { m, apply, failed };
}

const pending = (cmd: Command, ballot: number): MdlItem => ({ kind: 'pending', client: cmd.client, seq: cmd.seq, ts: 0, predShard: 0, predSeq: cmd.seq - 1, cmd, ballot });
const order = (seq: number, ts: number, ballot: number, cmd: Command | null = null): MdlItem => ({ kind: 'order', client: 'c', seq, ts, predShard: -1, predSeq: -1, cmd, ballot });
const fail = (seq: number, ballot: number): MdlItem => ({ kind: 'fail', client: 'c', seq, ts: 0, predShard: -1, predSeq: -1, cmd: null, ballot });

describe('mdl › state machine › stale decisions', () => {
  it('a second order for an operation already executed changes nothing', () => {
    const { m, apply } = machine();
    apply(pending(put(1, 'k', 'a'), 256));
    apply(order(1, 5, 256));
    apply(order(1, 9, 257));
    assert.equal(m.kv.read('k'), 'a');
    assert.equal(m.executedTs, 5);
    assert.equal(m.maxTs, 5);
  });

  it('a fast-path order carrying a timestamp below what already executed is ignored', () => {
    const { m, apply } = machine();
    apply(order(1, 10, 512, put(1, 'k', 'new')));
    apply(order(0, 4, 256, put(0, 'k', 'old')));
    assert.equal(m.kv.read('k'), 'new');
    assert.equal(m.sessions.lookup('c', 0).kind, 'new', 'never executed: the client may still retry it');
  });

  it('a fail decided by a leader older than the one that committed the operation is ignored', () => {
    const { m, apply, failed } = machine();
    apply(pending(put(1, 'k', 'v'), 512));
    apply(fail(1, 256));
    assert.deepEqual(failed, []);
    assert.ok(m.committed.has(opId('c', 1)));
    apply(order(1, 3, 512));
    assert.equal(m.kv.read('k'), 'v');
  });

  it('a fail by the committing leader or a newer one applies, and a later order for it is ignored', () => {
    const { m, apply, failed } = machine();
    apply(pending(put(1, 'k', 'v'), 256));
    apply(fail(1, 256));
    assert.deepEqual(failed, [opId('c', 1)]);
    apply(order(1, 3, 256));
    assert.equal(m.kv.read('k'), null);
    assert.equal(m.sessions.lookup('c', 1).kind, 'failed');
  });

  it('a fail for an operation already ordered behind a hold is ignored, and the release executes it', () => {
    const { m, apply, failed } = machine();
    apply(pending(put(1, 'k', 'v'), 256));
    apply(marker('hold', 512), order(1, 3, 256));
    apply(fail(1, 768));
    assert.deepEqual(failed, []);
    apply(marker('recover', 768));
    assert.equal(m.kv.read('k'), 'v');
  });

  it('the release executes buffered and recovered operations in timestamp order', () => {
    const { m, apply } = machine();
    apply(pending({ client: 'c', seq: 1, op: 'append', key: 'k', value: 'b', expect: null }, 256));
    apply(pending({ client: 'c', seq: 2, op: 'append', key: 'k', value: 'c', expect: null }, 256));
    apply(marker('hold', 512), order(2, 7, 256));
    apply(order(1, 4, 512));
    apply(marker('recover', 512));
    assert.equal(m.kv.read('k'), 'bc');
  });
});
