/**
 * Step-level tests of the client session core's batching: what a pipelining session sends, and
 * how it takes batched replies.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ClientSession, type DispatchMode } from '../../src/protocol/client/session.js';
import type { Output } from '../../src/protocol/common/core.js';
import { BATCH_CHARS_MAX, BATCH_ITEMS_MAX, batchEnds, commandsOf } from '../../src/protocol/common/messages.js';
import type { SessionMessage } from '../../src/protocol/client/session.js';

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
