/**
 * The fault injector against fake processes: each fake replica keeps the set of peers it blocks,
 * applying admin controls the way src/runtime/replica.ts does, and loses it when it is killed.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { addrKey, replicaAddr, type ReplicaAddr } from '../../src/protocol/common/core.js';
import type { Control } from '../../src/torture/admin.js';
import { FaultInjector, type ProcessControl } from '../../src/torture/faults.js';
import type { Fault } from '../../src/torture/schedule.js';

const SHARDS = 2;
const REPLICAS = 3;

class FakeCluster implements ProcessControl {
  readonly state = new Map<string, 'running' | 'dead' | 'stopped'>();
  readonly blocked = new Map<string, Set<string>>();
  /** Replicas whose restart has not finished yet: call `finishRestarts` to let them listen. */
  private pending: (() => void)[] = [];

  /** `instantRestarts`: a restarted replica listens at once. */
  constructor(private readonly instantRestarts: boolean) {
    for (let s = 0; s < SHARDS; s++) {
      for (let r = 0; r < REPLICAS; r++) {
        this.state.set(addrKey(replicaAddr(s, r)), 'running');
        this.blocked.set(addrKey(replicaAddr(s, r)), new Set());
      }
    }
  }

  killReplica(shard: number, replica: number): Promise<void> {
    this.state.set(addrKey(replicaAddr(shard, replica)), 'dead');
    return Promise.resolve();
  }

  restartReplica(shard: number, replica: number): Promise<string> {
    const key = addrKey(replicaAddr(shard, replica));
    assert.equal(this.state.get(key), 'dead', `${key} restarted while not dead`);
    return new Promise((resolve) => {
      this.pending.push(() => {
        this.state.set(key, 'running');
        this.blocked.set(key, new Set());
        resolve(`127.0.0.1:${1000 + shard * 10 + replica}`);
      });
      if (this.instantRestarts) this.finishRestarts();
    });
  }

  signalReplica(shard: number, replica: number, signal: 'SIGSTOP' | 'SIGCONT'): void {
    const key = addrKey(replicaAddr(shard, replica));
    if (this.state.get(key) !== 'dead') this.state.set(key, signal === 'SIGSTOP' ? 'stopped' : 'running');
  }

  finishRestarts(): void {
    for (const done of this.pending.splice(0)) done();
  }

  /** What a replica does with admin controls; a stopped or dead one cannot answer. */
  apply(target: ReplicaAddr, controls: readonly Control[]): Promise<void> {
    const key = addrKey(target);
    if (this.state.get(key) !== 'running') return Promise.reject(new Error(`${key} does not answer`));
    const set = this.blocked.get(key) as Set<string>;
    for (const c of controls) {
      const peers = c.replica >= 0 ? [c.replica] : Array.from({ length: REPLICAS }, (_, r) => r).filter((r) => c.shard !== target.shard || r !== target.replica);
      for (const r of peers) {
        if (c.action === 'block') set.add(addrKey(replicaAddr(c.shard, r)));
        else set.delete(addrKey(replicaAddr(c.shard, r)));
      }
    }
    return Promise.resolve();
  }

  blocks(key: string): string[] {
    return [...(this.blocked.get(key) as Set<string>)].sort();
  }
}

function setup(instantRestarts = false): { cluster: FakeCluster; injector: FaultInjector } {
  const cluster = new FakeCluster(instantRestarts);
  const addresses = new Map([...cluster.state.keys()].map((key, i) => [key, `127.0.0.1:${2000 + i}`]));
  const injector = new FaultInjector({
    shards: SHARDS,
    replicas: REPLICAS,
    processes: cluster,
    addresses,
    sendControls: (target, _address, controls) => cluster.apply(target, controls),
    log: () => undefined,
  });
  return { cluster, injector };
}

const r = replicaAddr;
const cut = (target: ReplicaAddr, ...peers: ReplicaAddr[]): Fault => ({ kind: 'cut', target, peers });

describe('torture › fault injector', () => {
  it('a cut blocks both ends of the link until it ends', async () => {
    const { cluster, injector } = setup();
    await injector.inject({ fault: cut(r(0, 0), r(1, 2)), durationMs: 100 }, 0);
    assert.deepEqual(cluster.blocks('r0.0'), ['r1.2']);
    assert.deepEqual(cluster.blocks('r1.2'), ['r0.0']);
    assert.deepEqual([...injector.charged()], ['r0.0']);
    await injector.revertDue(99);
    assert.deepEqual(cluster.blocks('r0.0'), ['r1.2'], 'not before its time');
    await injector.revertDue(100);
    assert.deepEqual(cluster.blocks('r0.0'), []);
    assert.deepEqual(cluster.blocks('r1.2'), []);
    assert.equal(injector.charged().size, 0);
  });

  it('isolating a leader blocks it from every other replica of its shard, and only those', async () => {
    const { cluster, injector } = setup();
    await injector.inject({ fault: { kind: 'isolate', target: r(1, 0), peers: [r(1, 1), r(1, 2)] }, durationMs: 100 }, 0);
    assert.deepEqual(cluster.blocks('r1.0'), ['r1.1', 'r1.2']);
    assert.deepEqual(cluster.blocks('r1.1'), ['r1.0']);
    assert.deepEqual(cluster.blocks('r0.0'), []);
  });

  it('a link cut by two faults stays cut until the second ends', async () => {
    const { cluster, injector } = setup();
    await injector.inject({ fault: cut(r(0, 1), r(0, 2)), durationMs: 100 }, 0);
    await injector.inject({ fault: { kind: 'isolate', target: r(0, 2), peers: [r(0, 0), r(0, 1)] }, durationMs: 200 }, 0);
    await injector.revertDue(150);
    assert.deepEqual(cluster.blocks('r0.1'), ['r0.2']);
    await injector.revertDue(200);
    assert.deepEqual(cluster.blocks('r0.1'), []);
  });

  it('a paused replica learns of cuts made while it slept once it is resumed', async () => {
    const { cluster, injector } = setup();
    await injector.inject({ fault: { kind: 'pause', target: r(0, 1) }, durationMs: 300 }, 0);
    await injector.inject({ fault: cut(r(1, 0), r(0, 1)), durationMs: 1000 }, 0);
    assert.equal(cluster.state.get('r0.1'), 'stopped');
    assert.deepEqual(cluster.blocks('r0.1'), []);
    assert.deepEqual(cluster.blocks('r1.0'), ['r0.1']);
    await injector.revertDue(300);
    assert.equal(cluster.state.get('r0.1'), 'running');
    assert.deepEqual(cluster.blocks('r0.1'), ['r1.0']);
  });

  it('a killed replica stays charged until its restart listens, and is then given the cuts still active', async () => {
    const { cluster, injector } = setup();
    await injector.inject({ fault: cut(r(0, 0), r(0, 2)), durationMs: 1000 }, 0);
    await injector.inject({ fault: { kind: 'kill', target: r(0, 2) }, durationMs: 100 }, 0);
    assert.equal(cluster.state.get('r0.2'), 'dead');
    await injector.revertDue(100);
    assert.ok(injector.charged().has('r0.2'), 'charged while restarting');
    assert.match(injector.describeDown(), /r0\.2:restarting/);
    cluster.finishRestarts();
    await new Promise((resolve) => setImmediate(resolve));
    await injector.revertDue(101);
    assert.equal(cluster.state.get('r0.2'), 'running');
    assert.deepEqual(cluster.blocks('r0.2'), ['r0.0']);
    assert.deepEqual([...injector.charged()], ['r0.0']);
  });

  it('healing restarts the killed and the crashed, resumes the paused, and unblocks every link', async () => {
    const { cluster, injector } = setup(true);
    await injector.inject({ fault: { kind: 'kill', target: r(0, 0) }, durationMs: 5000 }, 0);
    await injector.inject({ fault: { kind: 'pause', target: r(1, 1) }, durationMs: 5000 }, 0);
    await injector.inject({ fault: cut(r(0, 1), r(1, 0)), durationMs: 5000 }, 0);
    await cluster.killReplica(1, 2);
    injector.onCrash('r1.2');
    assert.match(injector.describeDown(), /r1\.2:crashed/);
    await injector.healAll(performance.now() + 5000);
    for (const [key, state] of cluster.state) {
      assert.equal(state, 'running', key);
      assert.deepEqual(cluster.blocks(key), [], key);
    }
    assert.equal(injector.charged().size, 0);
    assert.equal(injector.describeDown(), '-');
    assert.equal(injector.injected, 3);
  });
});
