import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MasterCore } from '../../src/protocol/master/core.js';
import type { MasterMessage } from '../../src/protocol/master/messages.js';
import type { Sender } from '../../src/protocol/common/core.js';

const R = (shard: number, replica: number): Sender => ({ kind: 'replica', shard, replica });

function master() {
  return new MasterCore({ cluster: 't', protocol: 'paxos', shards: 2, replicasPerShard: 3, tickMs: 100, downAfterTicks: 5 });
}

function answer(m: MasterCore, from: Sender, msg: MasterMessage): MasterMessage {
  const out = m.step(from, msg);
  assert.equal(out.length, 1);
  const o = out[0];
  assert.ok(o?.type === 'send');
  return o.msg;
}

function register(m: MasterCore, shard: number, replica: number) {
  return answer(m, R(shard, replica), { type: 'register', shard, replica, address: `127.0.0.1:${7000 + shard * 10 + replica}`, pid: 100 + replica, protocol: 'paxos' });
}

function beat(m: MasterCore, shard: number, replica: number, role: 'leader' | 'follower', ballot: number, mapVersion = 0) {
  return answer(m, R(shard, replica), { type: 'heartbeat', shard, replica, role, ballot, leader: role === 'leader' ? replica : -1, mapVersion });
}

describe('master', () => {
  it('refuses a replica of another protocol, shard or id range, and one whose connection says otherwise', () => {
    const m = master();
    const wrongProtocol = answer(m, R(0, 0), { type: 'register', shard: 0, replica: 0, address: 'a', pid: 1, protocol: 'mdl' });
    assert.ok(wrongProtocol.type === 'registerReply' && /protocol paxos/.test(wrongProtocol.error));
    assert.ok((register(m, 0, 3) as { error: string }).error.includes('out of range'));
    const lying = answer(m, R(0, 1), { type: 'register', shard: 0, replica: 2, address: 'a', pid: 1, protocol: 'paxos' });
    assert.ok(lying.type === 'registerReply' && lying.error.includes('identity'));
    const ok = register(m, 1, 2);
    assert.ok(ok.type === 'registerReply' && ok.error === '' && ok.map.replicas.length === 1);
  });

  it('each shard leader is the live replica claiming leadership at the highest ballot', () => {
    const m = master();
    for (let r = 0; r < 3; r++) register(m, 0, r);
    beat(m, 0, 0, 'leader', 256);
    beat(m, 0, 1, 'leader', 513);
    const map = m.map();
    assert.deepEqual(map.leaders[0], { shard: 0, leader: 1, ballot: 513 });
    assert.deepEqual(map.leaders[1], { shard: 1, leader: -1, ballot: 0 });
    for (let i = 0; i < 6; i++) {
      m.tick();
      beat(m, 0, 0, 'leader', 256);
    }
    assert.equal(m.map().replicas.find((r) => r.replica === 1)?.role, 'down', 'silent for longer than downAfterTicks');
    assert.deepEqual(m.map().leaders[0], { shard: 0, leader: 0, ballot: 256 });
  });

  it('a heartbeat from a replica it does not know asks it to register again', () => {
    const reply = beat(master(), 0, 0, 'follower', 0);
    assert.ok(reply.type === 'heartbeatReply' && reply.known === false);
  });

  it('a heartbeat carries the map only when the replica holds an older version', () => {
    const m = master();
    register(m, 0, 0);
    const first = beat(m, 0, 0, 'follower', 0, 0);
    assert.ok(first.type === 'heartbeatReply' && first.map !== null);
    const again = beat(m, 0, 0, 'follower', 0, first.map.version);
    assert.ok(again.type === 'heartbeatReply' && again.map === null);
  });
});
