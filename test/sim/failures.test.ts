import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Output, ReplicaAddr, ReplicaCore, Sender } from '../../src/protocol/common/core.js';
import { Simulator, SimulationError } from '../../src/sim/simulator.js';
import { Workload } from '../../src/sim/workload.js';
import { POISON, ToyClient, ToyCluster, type ToyMsg, type ToyRecord } from './toy.js';

/** Sends a message to itself on start and again on every one it receives: a zero-delay loop. */
class SelfEcho implements ReplicaCore<string, never> {
  constructor(private readonly addr: ReplicaAddr) {}
  step(_from: Sender, msg: string): Output<string, never>[] {
    return [{ type: 'send', to: this.addr, msg }];
  }
  tick(): Output<string, never>[] {
    return [{ type: 'send', to: this.addr, msg: 'echo' }];
  }
  flush(): Output<string, never>[] {
    return [];
  }
  status() {
    return { role: 'follower', ballot: 0, leader: -1, executed: 0 } as const;
  }
  checkInvariants(): void {}
  stateDigest() {
    return { executed: 0, entries: [] };
  }
}

describe('sim', () => {
  describe('failures', () => {
    it('a failed assertion in a core stops the run with the seed, the node and the call', () => {
      const sim = new Simulator<ToyMsg, ToyRecord>({ seed: 42, trace: 'lines' });
      const cluster = new ToyCluster({ replicas: 3, leader: 0 });
      sim.addShard(0, 3, cluster.factory);
      const workload = new Workload(sim, () => new ToyClient(100), ['c']);
      workload.submitAt('c', 30, { op: 'put', key: 'x', value: POISON, expect: null });
      assert.throws(
        () => sim.run(100),
        (e: unknown) =>
          e instanceof SimulationError &&
          e.seed === 42 &&
          e.node === 'r0.0' &&
          e.call === 'step' &&
          /^seed 42: r0\.0 failed in step at \d+ms: AssertionError: boom was written/.test(e.message) &&
          e.message.includes('last trace lines'),
      );
    });

    it('a zero-delay message loop is stopped instead of hanging the run', () => {
      const sim = new Simulator<string, never>({ seed: 6, instantEventsMax: 1000 });
      sim.addShard(0, 1, (addr) => new SelfEcho(addr));
      assert.throws(() => sim.run(10), /seed 6: more than 1000 events at \d+ms/);
    });

    it('a message sent to a node that does not exist is reported as a failure of the sender', () => {
      const sim = new Simulator<ToyMsg, ToyRecord>({ seed: 3 });
      const cluster = new ToyCluster({ replicas: 4 });
      sim.addShard(0, 3, cluster.factory);
      cluster.core(0).script.push([{ type: 'send', to: { kind: 'replica', shard: 0, replica: 3 }, msg: { type: 'ping', n: 0 } }]);
      assert.throws(() => sim.run(10), /seed 3: r0\.0 failed in tick at \d+ms: AssertionError: no node r0\.3/);
    });
  });
});
