/**
 * Step-level tests of the client session core: what a pipelining session sends, how it takes
 * batched replies, and how an MDL session orders operations after one whose outcome is unknown.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ClientSession, type DispatchMode } from '../../src/protocol/client/session.js';
import type { Output } from '../../src/protocol/common/core.js';
import { BATCH_CHARS_MAX, BATCH_ITEMS_MAX, batchEnds, commandsOf } from '../../src/protocol/common/messages.js';
import type { SessionMessage } from '../../src/protocol/client/session.js';
import { shardOf } from '../../src/protocol/common/shardmap.js';

function session(mode: DispatchMode, windowMax = 8): ClientSession {
  return new ClientSession({ client: 'c', shards: 1, replicasPerShard: 3, mode, windowMax, retryTicks: 5, opTimeoutTicks: 50 });
}

const sends = (outputs: Output<SessionMessage, never>[]) => outputs.flatMap((o) => (o.type === 'send' ? [{ to: o.to, msg: o.msg }] : []));
const put = (key: string) => ({ op: 'put' as const, key, value: 'v', expect: null });

describe('client › session batching', () => {
  it('requests a pipelining session issues before a flush leave in one requests message', () => {
    const s = session('pipeline');
    for (let i = 0; i < 3; i++) assert.deepEqual(s.submit(put(`k${i}`)).outputs, [], 'nothing leaves before the flush');
    const out = sends(s.flush());
    assert.equal(out.length, 1);
    assert.deepEqual(out[0]?.to, { kind: 'replica', shard: 0, replica: 0 });
    assert.ok(out[0]?.msg.type === 'requests');
    assert.deepEqual(commandsOf(out[0].msg)?.map((c) => [c.client, c.seq, c.key]), [['c', 0, 'k0'], ['c', 1, 'k1'], ['c', 2, 'k2']]);
    assert.deepEqual(s.flush(), [], 'a flush sends each request once');
  });

  it('a lone request travels as a request, as a single-dispatch session sends it', () => {
    const s = session('single');
    s.submit(put('a'));
    s.submit(put('b'));
    const out = sends(s.flush());
    assert.equal(out.length, 1);
    assert.ok(out[0]?.msg.type === 'request' && out[0].msg.cmd.key === 'a', 'the second waits for the first');
  });

  it('a replies message settles every operation it answers', () => {
    const s = session('pipeline');
    for (let i = 0; i < 3; i++) s.submit(put(`k${i}`));
    s.flush();
    s.step({ kind: 'replica', shard: 0, replica: 0 }, { type: 'replies', replies: { seq: [2, 0], status: ['ok', 'ok'], output: [null, null], leader: [0, 0] } });
    assert.deepEqual(s.takeCompletions().map((c) => [c.seq, c.status]), [[2, 'ok'], [0, 'ok']]);
    assert.equal(s.outstanding, 1);
  });

  it('a replies message of not_leader answers sends each operation to the leader it names, again in one message', () => {
    const s = session('pipeline');
    for (let i = 0; i < 2; i++) s.submit(put(`k${i}`));
    s.flush();
    s.step({ kind: 'replica', shard: 0, replica: 0 }, { type: 'replies', replies: { seq: [0, 1], status: ['not_leader', 'not_leader'], output: [null, null], leader: [2, 2] } });
    const out = sends(s.flush());
    assert.equal(out.length, 1);
    assert.deepEqual(out[0]?.to, { kind: 'replica', shard: 0, replica: 2 });
    assert.ok(out[0]?.msg.type === 'requests' && out[0].msg.cmds.seq.length === 2);
  });
});

describe('common › batch limits', () => {
  it('cuts a list in order at the item limit and the character budget; an oversized item goes alone', () => {
    assert.deepEqual(batchEnds(BATCH_ITEMS_MAX + 1, () => 1), [BATCH_ITEMS_MAX, BATCH_ITEMS_MAX + 1]);
    const sizes = [BATCH_CHARS_MAX / 2, BATCH_CHARS_MAX / 2, 1, BATCH_CHARS_MAX * 2, 3];
    assert.deepEqual(batchEnds(sizes.length, (i) => sizes[i]!), [2, 3, 4, 5]);
    assert.deepEqual(batchEnds(0, () => 1), []);
  });
});

describe('client › MDL session after a timeout', () => {
  const shards = 2;
  const keyOn = (shard: number) => {
    for (let i = 0; ; i++) if (shardOf(`k${i}`, shards) === shard) return `k${i}`;
  };
  const mdl = () => new ClientSession({ client: 'c', shards, replicasPerShard: 3, mode: 'mdl', windowMax: 8, retryTicks: 5, opTimeoutTicks: 50 });
  const requests = (outputs: Output<SessionMessage, never>[]) => sends(outputs).flatMap(({ msg }) => (msg.type === 'mdlRequest' ? [[msg.cmd.seq, msg.predShard, msg.predSeq]] : []));
  const reply = (s: ClientSession, shard: number, seq: number, status: 'ok' | 'failed') =>
    s.step({ kind: 'replica', shard, replica: 0 }, { type: 'reply', seq, status, output: null, leader: 0 });
  const timeOut = (s: ClientSession) => {
    for (let t = 0; t < 50; t++) s.tick();
  };

  it('chains later operations to one that timed out, through a later definite failure, until its shard answers', () => {
    const s = mdl();
    s.submit(put(keyOn(0)));
    timeOut(s);
    assert.deepEqual(s.takeCompletions().map((c) => [c.seq, c.status]), [[0, 'unknown']]);
    // #0 may still take effect: #1 must be ordered after it.
    assert.deepEqual(requests(s.submit(put(keyOn(1))).outputs), [[1, 0, 0]]);
    reply(s, 1, 1, 'failed');
    assert.deepEqual(s.takeCompletions().map((c) => [c.seq, c.status]), [[1, 'fail']]);
    // #1's failure says nothing of #0, which is still asked after; #2 is chained to it too.
    assert.deepEqual(requests(s.submit(put(keyOn(1))).outputs), [[2, 0, 0]]);
    assert.ok(requests(s.tick()).concat(...Array.from({ length: 5 }, () => requests(s.tick()))).some(([seq]) => seq === 0), '#0 is sent again');
    reply(s, 0, 0, 'failed');
    reply(s, 1, 2, 'ok');
    assert.deepEqual(s.takeCompletions().map((c) => [c.seq, c.status]), [[2, 'ok']]);
    // #0 never takes effect and nothing is outstanding: #3 needs no predecessor.
    assert.deepEqual(requests(s.submit(put(keyOn(1))).outputs), [[3, -1, -1]]);
    for (let t = 0; t < 20; t++) assert.ok(!requests(s.tick()).some(([seq]) => seq === 0), '#0 is no longer sent');
  });

  it('an answer that the operation took effect settles it as well', () => {
    const s = mdl();
    s.submit(put(keyOn(0)));
    s.submit(put(keyOn(1)));
    timeOut(s);
    assert.deepEqual(s.takeCompletions().map((c) => c.status), ['unknown', 'unknown']);
    assert.deepEqual(requests(s.submit(put(keyOn(0))).outputs), [[2, 1, 1]], 'chained to the latest that timed out');
    reply(s, 1, 1, 'ok');
    assert.deepEqual(requests(s.submit(put(keyOn(1))).outputs), [[3, 0, 2]], 'chained to #2, still outstanding');
    reply(s, 0, 2, 'ok');
    reply(s, 1, 3, 'ok');
    reply(s, 0, 0, 'ok');
    assert.deepEqual(requests(s.submit(put(keyOn(0))).outputs), [[4, -1, -1]]);
  });
});
