/**
 * Step-level tests, each named after a claim of the protocol (PROTOCOLS.md §3).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SeededRng } from '../../src/protocol/common/rng.js';
import type { Command } from '../../src/protocol/common/kv.js';
import { requestsOf } from '../../src/protocol/common/messages.js';
import type { Sender } from '../../src/protocol/common/core.js';
import { shardOf } from '../../src/protocol/common/shardmap.js';
import { BALLOT_REPLICAS_MAX } from '../../src/protocol/common/paxosmsg.js';
import { MultiPaxosReplica, type MultiPaxosWire } from '../../src/protocol/multipaxos/replica.js';
import type { MultiPaxosRecord } from '../../src/protocol/multipaxos/messages.js';
import { testMpConfig } from '../helpers/mpconfig.js';
import { WireNet, type Delivery } from '../helpers/wirenet.js';
import type { MultiPaxosConfig } from '../../src/protocol/multipaxos/replica.js';

const R = (replica: number): Sender => ({ kind: 'replica', shard: 0, replica });
const C = (client: string): Sender => ({ kind: 'client', client });
const ballot = (round: number, id: number) => round * BALLOT_REPLICAS_MAX + id;

function put(client: string, seq: number, key: string, value: string): Command {
  return { client, seq, op: 'put', key, value, expect: null };
}
function get(client: string, seq: number, key: string): Command {
  return { client, seq, op: 'get', key, value: null, expect: null };
}

function cluster(n = 3, over: Partial<MultiPaxosConfig> = {}, seed = 1) {
  const rng = new SeededRng(seed);
  const replicas = Array.from({ length: n }, (_, i) => new MultiPaxosReplica(testMpConfig({ replica: i, replicas: n, ...over }), rng.fork(), []));
  return { replicas, net: new WireNet<MultiPaxosWire, MultiPaxosRecord>(replicas) };
}

/** Tick replica 0 until it runs for election, then deliver everything: it leads. */
function electZero(net: WireNet<MultiPaxosWire, MultiPaxosRecord>) {
  const r0 = net.replicas[0] as MultiPaxosReplica;
  for (let i = 0; i < 1000 && r0.status().role !== 'leader'; i++) {
    net.tick(0);
    net.run();
  }
  assert.equal(r0.status().role, 'leader');
  return r0;
}

/**
 * r0 leads and chooses slot 0; then it is cut off while r1 and r2 elect r1 at a higher ballot and
 * r1 chooses `slots` more. r0 hears nothing of it and still leads, its next slot 1. Returns what
 * r1 sent r0 meanwhile, held back.
 */
function deposeZero(slots: number, over: Partial<MultiPaxosConfig> = {}) {
  const { replicas, net } = cluster(3, over);
  const r0 = electZero(net);
  net.take(0, r0.step(C('a'), { type: 'request', cmd: put('a', 0, 'k', 'a') }));
  net.take(0, r0.flush());
  net.run();
  const r1 = replicas[1] as MultiPaxosReplica;
  const held: Delivery<MultiPaxosWire>[] = [];
  net.drop = (d) => {
    if (d.to.kind === 'replica' && d.to.replica === 0) held.push(d);
    return (d.to.kind === 'replica' && d.to.replica === 0) || (d.from.kind === 'replica' && d.from.replica === 0);
  };
  for (let i = 0; i < 1000 && r1.status().role !== 'leader'; i++) {
    net.tick(1);
    net.run();
  }
  assert.equal(r1.status().role, 'leader');
  for (let i = 0; i < slots; i++) {
    net.take(1, r1.step(C('b'), { type: 'request', cmd: put('b', i, 'k', 'b' + i) }));
    net.take(1, r1.flush());
    net.run();
  }
  net.drop = () => false;
  assert.equal(r0.status().role, 'leader');
  return { r0, r1, net, held };
}

describe('multipaxos › claims', () => {
  it('an acceptor rejects a prepare with a lower ballot', () => {
    const { replicas } = cluster();
    const r1 = replicas[1] as MultiPaxosReplica;
    r1.step(R(2), { type: 'prepare', ballot: ballot(5, 2), fromSlot: 0 });
    const out = r1.step(R(0), { type: 'prepare', ballot: ballot(3, 0), fromSlot: 0 });
    const reply = out.find((o) => o.type === 'send');
    assert.ok(reply !== undefined && reply.type === 'send' && reply.msg.type === 'prepareReply');
    assert.equal(reply.msg.ok, false);
    assert.equal(reply.msg.promised, ballot(5, 2));
  });

  it('an acceptor makes its promise durable before it replies to a prepare', () => {
    const { replicas } = cluster();
    const out = (replicas[1] as MultiPaxosReplica).step(R(0), { type: 'prepare', ballot: ballot(1, 0), fromSlot: 0 });
    assert.deepEqual(out.map((o) => o.type), ['persist', 'send']);
    assert.deepEqual(out[0], { type: 'persist', record: { type: 'promise', ballot: ballot(1, 0) }, lazy: false });
  });

  it('an acceptor rejects an accept below its promise and does not store it', () => {
    const { replicas } = cluster();
    const r1 = replicas[1] as MultiPaxosReplica;
    r1.step(R(2), { type: 'prepare', ballot: ballot(2, 2), fromSlot: 0 });
    const out = r1.step(R(0), { type: 'accept', ballot: ballot(1, 0), slot: 0, value: [put('c', 0, 'x', '1')], committedUpTo: 0 });
    assert.equal(out.some((o) => o.type === 'persist'), false);
    const reply = out.find((o) => o.type === 'send');
    assert.ok(reply?.type === 'send' && reply.msg.type === 'acceptReply' && reply.msg.ok === false);
  });

  it('a leader chooses a slot only on votes from a quorum of distinct replicas; a duplicated vote counts once', () => {
    const { replicas, net } = cluster(5);
    const r0 = replicas[0] as MultiPaxosReplica;
    const acceptors = new Set<number>();
    net.drop = (d) => d.msg.type === 'accept' || d.msg.type === 'acceptReply';
    electZero(net);
    net.take(0, r0.step(C('a'), { type: 'request', cmd: put('a', 0, 'x', '1') }));
    net.take(0, r0.flush());
    const accept = net.queue.find((d) => d.msg.type === 'accept');
    assert.ok(accept?.msg.type === 'accept');
    const slot = accept.msg.slot;
    const vote = { type: 'acceptReply', ballot: accept.msg.ballot, slot, ok: true, promised: accept.msg.ballot, committedUpTo: 0 } as const;
    net.deliverTo(0, R(1), vote);
    net.deliverTo(0, R(1), vote);
    acceptors.add(1);
    assert.equal(r0.engine.chosen(slot), undefined, 'two votes of five (self and one duplicated) are not a quorum');
    net.deliverTo(0, R(2), vote);
    assert.deepEqual(r0.engine.chosen(slot), [put('a', 0, 'x', '1')]);
  });

  it('a new leader re-proposes the highest-ballot accepted value and fills gaps with no-ops', () => {
    const { replicas, net } = cluster(5);
    const r1 = replicas[1] as MultiPaxosReplica;
    const r2 = replicas[2] as MultiPaxosReplica;
    // Earlier leaders r3 and r4 left: slot 0 accepted at round 1 on r1 and, with another value, at
    // round 2 on r2; slot 2 accepted on r2 only; slot 1 accepted nowhere. r0 hears r1 and r2.
    r1.step(R(3), { type: 'accept', ballot: ballot(1, 3), slot: 0, value: [put('a', 0, 'x', 'old')], committedUpTo: 0 });
    r2.step(R(4), { type: 'accept', ballot: ballot(2, 4), slot: 0, value: [put('b', 0, 'x', 'new')], committedUpTo: 0 });
    r2.step(R(4), { type: 'accept', ballot: ballot(2, 4), slot: 2, value: [put('b', 1, 'y', 'z')], committedUpTo: 0 });
    net.drop = (d) => d.to.kind === 'replica' && d.to.replica >= 3;
    const r0 = electZero(net);
    assert.deepEqual(r0.engine.chosen(0), [put('b', 0, 'x', 'new')]);
    assert.deepEqual(r0.engine.chosen(1), []);
    assert.deepEqual(r0.engine.chosen(2), [put('b', 1, 'y', 'z')]);
    assert.equal(r0.machine.kv.read('x'), 'new');
    assert.equal(r0.machine.kv.read('y'), 'z');
  });

  it('a new leader does not serve new proposals until every recovered slot is chosen', () => {
    const { replicas, net } = cluster();
    const r1 = replicas[1] as MultiPaxosReplica;
    r1.step(R(2), { type: 'accept', ballot: ballot(1, 2), slot: 0, value: [put('a', 0, 'x', '1')], committedUpTo: 0 });
    const r0 = replicas[0] as MultiPaxosReplica;
    // Let the prepare round through, then hold every accept reply.
    net.drop = (d) => d.msg.type === 'acceptReply';
    electZero(net);
    assert.equal(r0.engine.serving, false);
    net.take(0, r0.step(C('c'), { type: 'request', cmd: put('c', 0, 'k', 'v') }));
    net.take(0, r0.flush());
    assert.equal(net.queue.filter((d) => d.msg.type === 'accept' && d.msg.slot === 1).length, 0, 'nothing proposed beyond recovery');
    net.drop = () => false;
    for (let i = 0; i < 4; i++) net.tick(0);
    net.run();
    assert.equal(r0.engine.serving, true);
    assert.equal(r0.machine.kv.read('k'), 'v', 'the queued request was proposed once serving');
  });

  it('a leader that sees a higher ballot stops leading and redirects queued clients', () => {
    const { replicas, net } = cluster();
    const r0 = electZero(net);
    net.drop = (d) => d.msg.type === 'accept';
    net.take(0, r0.step(C('c'), { type: 'request', cmd: put('c', 0, 'k', 'v') }));
    net.deliverTo(0, R(2), { type: 'prepare', ballot: ballot(9, 2), fromSlot: 0 });
    assert.equal(r0.status().role, 'follower');
    assert.equal(replicas[0]?.status().ballot, ballot(9, 2));
    const replies = net.repliesFor('c');
    assert.equal(replies.length, 1);
    assert.ok(replies[0]?.type === 'reply' && replies[0].status === 'not_leader');
  });

  it('a leader that learns from a commit that a slot past its next one is chosen stops leading: a higher ballot chose it', () => {
    const { r0, net, held } = deposeZero(1);
    // The CommitShort for slot 1 arrives before any message carrying r1's ballot: r0 fetches the slot.
    for (const d of held.filter((h) => h.msg.type === 'commitShort')) net.deliverTo(0, d.from, d.msg);
    net.run();
    assert.equal(r0.status().role, 'follower');
    assert.equal(r0.status().leader, -1);
    assert.equal(r0.machine.kv.read('k'), 'b0');
  });

  it('a leader that learns from a snapshot that a slot past its next one is chosen stops leading', () => {
    const { r0, r1, net } = deposeZero(24, { logRetainSlots: 8, pipelineSlotsMax: 4 });
    assert.ok(r1.engine.logBase > 1, 'r1 dropped slots r0 never saw');
    // A fetch r0 sent as a candidate (for slots its voters had dropped) is answered only now.
    net.deliverTo(1, R(0), { type: 'fetch', fromSlot: 0, toSlot: 1 });
    net.run();
    assert.equal(r0.status().role, 'follower');
    assert.deepEqual(r0.stateDigest(), r1.stateDigest());
  });

  it('requests that arrive in one burst share a slot, at most batchCommandsMax commands each', () => {
    const { net } = cluster(3, { batchCommandsMax: 3 });
    const r0 = electZero(net);
    for (let i = 0; i < 7; i++) net.take(0, r0.step(C('c' + i), { type: 'request', cmd: put('c' + i, 0, 'k' + i, 'v') }));
    net.take(0, r0.flush());
    const sizes = net.queue.filter((d) => d.msg.type === 'accept' && d.to.kind === 'replica' && d.to.replica === 1).map((d) => (d.msg.type === 'accept' ? d.msg.value.length : -1));
    assert.deepEqual(sizes, [3, 3, 1]);
    net.run();
    assert.equal(r0.machine.kv.size, 7);
  });

  it('a requests message is taken command by command, and one client\'s replies from one step leave as one replies message', () => {
    const { net } = cluster();
    const r0 = electZero(net);
    const fromA = [put('a', 0, 'k0', 'v'), get('a', 1, 'k1')];
    const fromB = put('b', 0, 'k1', 'v');
    net.take(0, r0.step(C('b'), { type: 'request', cmd: fromB }));
    net.take(0, r0.step(C('a'), requestsOf('a', fromA)));
    net.take(0, r0.flush());
    const accepts = net.queue.filter((d) => d.msg.type === 'accept' && d.to.kind === 'replica' && d.to.replica === 1);
    assert.deepEqual(accepts.map((d) => (d.msg.type === 'accept' ? d.msg.value : [])), [[fromB, ...fromA]], 'one slot holds the burst');
    net.run();
    const toA = net.toClients.filter((d) => d.to.kind === 'client' && d.to.client === 'a').map((d) => d.msg);
    assert.deepEqual(toA, [{ type: 'replies', replies: { seq: [0, 1], status: ['ok', 'ok'], output: [null, 'v'], leader: [0, 0] } }]);
    assert.deepEqual(net.repliesFor('b'), [{ type: 'reply', seq: 0, status: 'ok', output: null, leader: 0 }]);
  });

  it('a retried command executes once and the retry gets the first result', () => {
    const { net } = cluster();
    const r0 = electZero(net);
    const cmd: Command = { client: 'c', seq: 0, op: 'append', key: 'k', value: 'x', expect: null };
    net.take(0, r0.step(C('c'), { type: 'request', cmd }));
    net.take(0, r0.step(C('c'), { type: 'request', cmd }));
    net.take(0, r0.flush());
    net.run();
    net.take(0, r0.step(C('c'), { type: 'request', cmd }));
    net.run();
    assert.equal(r0.machine.kv.read('k'), 'x');
    const replies = net.repliesFor('c');
    assert.equal(replies.length, 3);
    for (const r of replies) assert.ok(r.type === 'reply' && r.status === 'ok');
  });

  it('a follower that lacks a chosen slot fetches it instead of stalling', () => {
    const { replicas, net } = cluster();
    const r0 = electZero(net);
    net.drop = (d) => d.to.kind === 'replica' && d.to.replica === 2;
    net.take(0, r0.step(C('c'), { type: 'request', cmd: put('c', 0, 'k', 'v') }));
    net.take(0, r0.flush());
    net.run();
    net.drop = () => false;
    const r2 = replicas[2] as MultiPaxosReplica;
    assert.equal(r2.machine.kv.read('k'), null);
    net.tick(0);
    net.tick(0);
    net.run();
    assert.equal(r2.machine.kv.read('k'), 'v');
  });

  it('a follower far behind catches up from a snapshot once the leader dropped old slots', () => {
    const { replicas, net } = cluster(3, { logRetainSlots: 8, pipelineSlotsMax: 4 });
    const r0 = electZero(net);
    net.drop = (d) => d.to.kind === 'replica' && d.to.replica === 2;
    for (let i = 0; i < 40; i++) {
      net.take(0, r0.step(C('c'), { type: 'request', cmd: put('c', i, 'k' + (i % 5), String(i)) }));
      net.take(0, r0.flush());
      net.run();
    }
    assert.ok(r0.engine.logBase > 0, 'the leader dropped executed slots');
    net.drop = () => false;
    for (let i = 0; i < 6; i++) {
      net.tick(0);
      net.run();
    }
    const r2 = replicas[2] as MultiPaxosReplica;
    assert.deepEqual(r2.stateDigest(), r0.stateDigest());
  });

  it('thrifty mode sends each accept to a bare quorum of followers', () => {
    const { net } = cluster(5, { thrifty: true });
    const r0 = electZero(net);
    net.take(0, r0.step(C('c'), { type: 'request', cmd: put('c', 0, 'k', 'v') }));
    net.take(0, r0.flush());
    assert.equal(net.queue.filter((d) => d.msg.type === 'accept').length, 2);
    net.run();
    assert.equal(r0.machine.kv.read('k'), 'v');
  });

  it('reads go through the log and see every earlier write', () => {
    const { net } = cluster();
    const r0 = electZero(net);
    net.take(0, r0.step(C('w'), { type: 'request', cmd: put('w', 0, 'k', 'v1') }));
    net.take(0, r0.step(C('r'), { type: 'request', cmd: get('r', 0, 'k') }));
    net.take(0, r0.flush());
    net.run();
    const reply = net.repliesFor('r')[0];
    assert.ok(reply?.type === 'reply' && reply.output === 'v1');
  });

  it('a replica restarted from its records keeps its promise and accepted values', () => {
    const { replicas, net } = cluster();
    const r0 = electZero(net);
    net.take(0, r0.step(C('c'), { type: 'request', cmd: put('c', 0, 'k', 'v') }));
    net.take(0, r0.flush());
    net.run();
    const before = replicas[1] as MultiPaxosReplica;
    const restarted = new MultiPaxosReplica(before.config, new SeededRng(9), net.disk.get(1) ?? []);
    assert.equal(restarted.engine.promised, before.engine.promised);
    assert.deepEqual(restarted.engine.chosen(1), before.engine.chosen(1));
    assert.deepEqual(restarted.stateDigest(), before.stateDigest());
    const refusal = restarted.step(R(2), { type: 'prepare', ballot: ballot(0, 2), fromSlot: 0 });
    assert.ok(refusal[0]?.type === 'send' && refusal[0].msg.type === 'prepareReply' && refusal[0].msg.ok === false);
  });

  it('a request for a key of another shard is refused with wrong_shard', () => {
    const r = new MultiPaxosReplica(testMpConfig({ replica: 0, replicas: 1, shards: 2, shard: 0 }), new SeededRng(3), []);
    let key = 'k0';
    for (let i = 1; shardOf(key, 2) !== 1; i++) key = 'k' + i;
    const out = r.step(C('c'), { type: 'request', cmd: put('c', 0, key, 'v') });
    const reply = out.find((o) => o.type === 'send');
    assert.ok(reply?.type === 'send' && reply.msg.type === 'reply' && reply.msg.status === 'wrong_shard');
  });
});
