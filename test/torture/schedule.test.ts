import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { addrKey, type ReplicaAddr } from '../../src/protocol/common/core.js';
import { SeededRng } from '../../src/protocol/common/rng.js';
import { FaultSchedule, type PlannedFault, type ScheduleOptions } from '../../src/torture/schedule.js';

const DRAWS = 2000;

function schedule(seed: number, opts: Partial<ScheduleOptions> = {}): FaultSchedule {
  return new FaultSchedule(new SeededRng(seed), { shards: 1, replicas: 3, crossShard: false, ...opts });
}

/** Draws `DRAWS` faults from an unfaulted cluster whose shard s is led by replica s % replicas. */
function draws(s: FaultSchedule, shards: number, replicas: number): PlannedFault[] {
  const leaders = Array.from({ length: shards }, (_, i) => i % replicas);
  const out: PlannedFault[] = [];
  for (let i = 0; i < DRAWS; i++) out.push(s.next({ leaders, charged: new Set() }) as PlannedFault);
  return out;
}

describe('torture › fault schedule', () => {
  it('one seed and the same views give the same faults', () => {
    const a = schedule(7, { shards: 2, crossShard: true });
    const b = schedule(7, { shards: 2, crossShard: true });
    for (let i = 0; i < 200; i++) {
      const view = { leaders: [i % 3, (i + 1) % 3], charged: new Set(i % 4 === 0 ? ['r0.1'] : []) };
      assert.deepEqual(a.next(view), b.next(view));
      assert.equal(a.gapMs(), b.gapMs());
    }
  });

  it('never charges more than f = (R-1)/2 replicas of a shard at once', () => {
    for (const replicas of [3, 4, 5, 7]) {
      const f = Math.floor((replicas - 1) / 2);
      const rng = new SeededRng(replicas);
      const s = new FaultSchedule(rng.fork(), { shards: 2, replicas, crossShard: true });
      const charged = new Set<string>();
      for (let i = 0; i < DRAWS; i++) {
        // Faults end at random moments; leaders move at random.
        for (const key of [...charged]) if (rng.chance(0.3)) charged.delete(key);
        const planned = s.next({ leaders: [rng.int(replicas) - 1, rng.int(replicas)], charged });
        if (planned === null) {
          for (let shard = 0; shard < 2; shard++) assert.equal([...charged].filter((k) => k.startsWith(`r${shard}.`)).length, f);
          continue;
        }
        const target = addrKey(planned.fault.target);
        assert.ok(!charged.has(target), `${target} already carries a fault`);
        charged.add(target);
        for (let shard = 0; shard < 2; shard++) {
          assert.ok([...charged].filter((k) => k.startsWith(`r${shard}.`)).length <= f, `shard ${shard} of ${replicas} over budget`);
        }
      }
    }
  });

  it('has nothing to inject once every shard carries f faults', () => {
    const s = schedule(1, { shards: 2, replicas: 3 });
    assert.equal(s.next({ leaders: [0, 0], charged: new Set(['r0.2', 'r1.0']) }), null);
    assert.notEqual(s.next({ leaders: [0, 0], charged: new Set(['r0.2']) }), null);
  });

  it('kills and pauses the leader more often than any follower', () => {
    const hits = new Map<string, number>();
    for (const { fault } of draws(schedule(3), 1, 3)) {
      if (fault.kind === 'kill' || fault.kind === 'pause') hits.set(addrKey(fault.target), (hits.get(addrKey(fault.target)) ?? 0) + 1);
    }
    const leader = hits.get('r0.0') ?? 0;
    assert.ok(leader > 0);
    for (const follower of ['r0.1', 'r0.2']) assert.ok(leader > 2 * (hits.get(follower) ?? 0), `leader ${leader}, ${follower} ${hits.get(follower)}`);
  });

  it('draws every kind of fault, and isolates only a known leader, from every other replica of its shard', () => {
    const kinds = new Set<string>();
    for (const { fault, durationMs } of draws(schedule(4, { replicas: 5 }), 1, 5)) {
      kinds.add(fault.kind);
      assert.ok(durationMs > 0);
      if (fault.kind !== 'isolate') continue;
      assert.deepEqual(fault.target, { kind: 'replica', shard: 0, replica: 0 });
      assert.deepEqual(fault.peers.map(addrKey), ['r0.1', 'r0.2', 'r0.3', 'r0.4']);
    }
    assert.deepEqual([...kinds].sort(), ['cut', 'isolate', 'kill', 'pause']);
    const s = schedule(5);
    for (let i = 0; i < 200; i++) assert.notEqual(s.next({ leaders: [-1], charged: new Set() })?.fault.kind, 'isolate');
  });

  it('cuts links to other shards only when asked to, and never a link from a replica to itself', () => {
    const crossShards = (crossShard: boolean): number => {
      let cross = 0;
      for (const { fault } of draws(schedule(6, { shards: 3, crossShard }), 3, 3)) {
        if (fault.kind !== 'cut') continue;
        const [peer] = fault.peers as [ReplicaAddr];
        assert.notEqual(addrKey(peer), addrKey(fault.target));
        if (peer.shard !== fault.target.shard) cross++;
      }
      return cross;
    };
    assert.equal(crossShards(false), 0);
    assert.ok(crossShards(true) > 0);
  });
});
