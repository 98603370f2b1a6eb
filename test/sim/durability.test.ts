import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { replicaAddr } from '../../src/protocol/common/core.js';
import type { Output } from '../../src/protocol/common/core.js';
import { Simulator } from '../../src/sim/simulator.js';
import { Workload } from '../../src/sim/workload.js';
import { ToyClient, ToyCluster, type ToyMsg, type ToyRecord } from './toy.js';

const r0 = replicaAddr(0, 0);
const r1 = replicaAddr(0, 1);
const r2 = replicaAddr(0, 2);

type ToyOutput = Output<ToyMsg, ToyRecord>;
const persist = (index: number, value: string): ToyOutput => ({ type: 'persist', record: { index, value }, lazy: false });
const ping = (n: number): ToyOutput => ({ type: 'send', to: r1, msg: { type: 'ping', n } });

/** Three silent toy replicas ticking every millisecond from t=1; the test scripts r0's outputs. */
function scripted(opts: { fsyncMs?: number; crashKeepsUnsyncedPrefix?: boolean; seed?: number } = {}) {
  const sim = new Simulator<ToyMsg, ToyRecord>({
    seed: opts.seed ?? 3,
    tickMs: 1,
    tickPhase: false,
    fsyncMs: opts.fsyncMs ?? 0,
    crashKeepsUnsyncedPrefix: opts.crashKeepsUnsyncedPrefix ?? false,
    links: { replica: { delayMs: 1, jitterMs: 0 } },
    trace: 'lines',
  });
  const cluster = new ToyCluster({ replicas: 3 });
  sim.addShard(0, 3, cluster.factory);
  return { sim, cluster, script: cluster.core(0).script };
}

/** Departure time of each ping r0 sent, by its number. */
function departures(lines: readonly string[]): Map<number, number> {
  const out = new Map<number, number>();
  for (const line of lines) {
    const m = /^(\d+) s\d+ r0\.0>r0\.1 .*"n":(\d+)/.exec(line);
    if (m !== null) out.set(Number(m[2]), Number(m[1]));
  }
  return out;
}

describe('sim', () => {
  describe('disk and crashes', () => {
    it('a crash loses the unsynced records and keeps the synced ones', () => {
      const { sim, cluster, script } = scripted();
      // Tick 1: a record nobody waits for. Tick 2: a record and a send, which syncs both. Tick 3: another unsynced one.
      script.push([persist(0, 'a')], [persist(1, 'b'), ping(0)], [persist(2, 'c')]);
      sim.run(5);
      assert.equal(sim.disk(r0).length, 3);
      assert.equal(sim.disk(r0).synced, 2);
      sim.crash(r0);
      assert.equal(sim.counters.recordsLost, 1);
      assert.ok(!sim.isUp(r0));
      assert.equal(sim.replica(r0), null);
      sim.restart(r0);
      assert.deepEqual(cluster.builds.at(-1), { replica: 0, records: [{ index: 0, value: 'a' }, { index: 1, value: 'b' }] });
      assert.deepEqual(cluster.core(0).log, ['a', 'b']);
      assert.equal(sim.disk(r0).length, 2);
    });

    it('a send after a persist leaves only once the sync completes; sends before it leave at once', () => {
      const { sim, cluster, script } = scripted({ fsyncMs: 10 });
      script.push([ping(0), persist(0, 'a'), ping(1)]);
      sim.run(30);
      const sent = departures(sim.traceLines);
      assert.equal(sent.get(0), 1);
      assert.equal(sent.get(1), 11);
      assert.ok(sim.traceLines.includes('11 y r0.0 1'), 'the sync completed at 11ms');
      assert.deepEqual(cluster.core(1).pings.map((p) => p.n), [0, 1]);
    });

    it('a crash before the sync completes loses the record and the send waiting for it', () => {
      const { sim, cluster, script } = scripted({ fsyncMs: 10 });
      script.push([ping(0), persist(0, 'a'), ping(1)]);
      sim.run(5);
      sim.crash(r0);
      sim.run(20);
      assert.deepEqual([...departures(sim.traceLines).keys()], [0]);
      assert.equal(sim.counters.dropped.unsynced, 1);
      assert.deepEqual(cluster.core(1).pings.map((p) => p.n), [0]);
      sim.restart(r0);
      assert.deepEqual(cluster.builds.at(-1), { replica: 0, records: [] });
    });

    it('a send in a later output list never overtakes an earlier send that waits for a sync', () => {
      const { sim, script } = scripted({ fsyncMs: 10 });
      script.push([persist(0, 'a'), ping(0)], [ping(1)]);
      sim.run(30);
      const sent = departures(sim.traceLines);
      assert.equal(sent.get(0), 11);
      assert.equal(sent.get(1), 11);
      assert.deepEqual([...sent.keys()], [0, 1], 'the earlier send leaves first');
    });

    it('with crashKeepsUnsyncedPrefix a crash keeps a random prefix of the unsynced records', () => {
      const kept = new Set<number>();
      for (let seed = 1; seed <= 20; seed++) {
        const { sim, cluster, script } = scripted({ crashKeepsUnsyncedPrefix: true, seed });
        script.push([persist(0, 'a')], [persist(1, 'b')], [persist(2, 'c')]);
        sim.run(5);
        sim.crash(r0);
        sim.restart(r0);
        const log = cluster.core(0).log;
        assert.deepEqual(log, ['a', 'b', 'c'].slice(0, log.length));
        kept.add(log.length);
      }
      assert.ok(kept.size >= 3, `kept ${[...kept].join(',')}`);
    });

    it('a crash drops the messages in flight to the node, and its timers', () => {
      const { sim, cluster, script } = scripted();
      sim.setLink(r0, r1, { delayMs: 10 });
      script.push([ping(0)]);
      sim.run(5);
      const old = cluster.core(1);
      sim.crash(r1);
      sim.run(1);
      sim.restart(r1);
      const ticksAtCrash = old.ticks;
      sim.run(20);
      assert.equal(old.ticks, ticksAtCrash, 'the crashed core is never ticked again');
      assert.equal(old.pings.length + cluster.core(1).pings.length, 0);
      assert.equal(sim.counters.dropped.down, 1);
      assert.ok(cluster.core(1).ticks >= 19, 'the restarted core ticks');
    });

    it('a restarted replica rebuilds its log from its durable records and converges', () => {
      const sim = new Simulator<ToyMsg, ToyRecord>({ seed: 5, fsyncMs: 1 });
      const cluster = new ToyCluster({ replicas: 3, leader: 0 });
      sim.addShard(0, 3, cluster.factory);
      const workload = new Workload(sim, () => new ToyClient(100), 2);
      workload.closedLoop({ outstandingMax: 1, startMs: 30, stopMs: 200 });
      sim.run(250);
      assert.ok(workload.stats.ok > 20);
      assert.ok(sim.converged(0));
      const log = [...cluster.core(2).log];
      sim.crash(r2);
      assert.ok(sim.converged(0), 'the live replicas agree');
      sim.restart(r2);
      assert.deepEqual(cluster.core(2).log, log);
      assert.ok(sim.converged(0));
    });

    it('the convergence helper sees a replica that fell behind', () => {
      const sim = new Simulator<ToyMsg, ToyRecord>({ seed: 5 });
      const cluster = new ToyCluster({ replicas: 3, leader: 0 });
      sim.addShard(0, 3, cluster.factory);
      const workload = new Workload(sim, () => new ToyClient(100), 1);
      sim.isolate(r2);
      workload.closedLoop({ outstandingMax: 1, startMs: 30, stopMs: 100 });
      sim.run(150);
      assert.ok(workload.stats.ok > 5, 'a majority still answers');
      assert.ok(!sim.converged(0));
      const [d0, d1, d2] = sim.digests(0);
      assert.equal(d0?.digest, d1?.digest);
      assert.notEqual(d0?.digest, d2?.digest);
      assert.ok(cluster.core(2).log.length === 0);
    });
  });
});
