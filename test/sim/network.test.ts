import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { replicaAddr } from '../../src/protocol/common/core.js';
import type { LinkProfile } from '../../src/sim/network.js';
import { Simulator } from '../../src/sim/simulator.js';
import type { TraceMode } from '../../src/sim/trace.js';
import { ToyCluster, type ToyMsg, type ToyRecord } from './toy.js';

const r0 = replicaAddr(0, 0);
const r1 = replicaAddr(0, 1);
const r2 = replicaAddr(0, 2);

/** Three replicas that ping each other every millisecond. */
function pingers(link: Partial<LinkProfile>, opts: { seed?: number; pingsPerRound?: number; trace?: TraceMode } = {}) {
  const sim = new Simulator<ToyMsg, ToyRecord>({
    seed: opts.seed ?? 1,
    tickMs: 1,
    tickPhase: false,
    links: { replica: link },
    trace: opts.trace ?? 'hash',
  });
  const cluster = new ToyCluster({ replicas: 3, pingEveryTicks: 1, pingsPerRound: opts.pingsPerRound ?? 1 });
  sim.addShard(0, 3, cluster.factory);
  return { sim, cluster };
}

function pingsFrom(cluster: ToyCluster, at: number, from: number): number[] {
  return cluster
    .core(at)
    .pings.filter((p) => p.from === from)
    .map((p) => p.n);
}

function isSorted(xs: readonly number[]): boolean {
  return xs.every((x, i) => i === 0 || (xs[i - 1] as number) <= x);
}

describe('sim', () => {
  describe('network', () => {
    it('with a fixed delay and no jitter, every message takes exactly that delay and order is kept', () => {
      const { sim, cluster } = pingers({ delayMs: 3, jitterMs: 0 }, { trace: 'lines' });
      sim.run(100);
      const sentAt = new Map<string, number>();
      let checked = 0;
      for (const line of sim.traceLines) {
        const [t, what] = line.split(' ');
        if (what?.startsWith('s')) sentAt.set(what.slice(1), Number(t));
        if (what?.startsWith('d')) {
          assert.equal(Number(t) - (sentAt.get(what.slice(1)) as number), 3, line);
          checked++;
        }
      }
      assert.ok(checked > 500);
      assert.ok(isSorted(pingsFrom(cluster, 1, 0)));
    });

    it('a per-link profile overrides the class profile on that directed link only', () => {
      const { sim, cluster } = pingers({ delayMs: 1, jitterMs: 0 });
      sim.setLink(r0, r1, { delayMs: 30 });
      sim.run(100);
      // Pings 0..99 left r0 at 1..100ms: r1 has only those sent by 70ms, r2 nearly all.
      assert.equal(pingsFrom(cluster, 1, 0).length, 70);
      assert.equal(pingsFrom(cluster, 2, 0).length, 99);
      assert.equal(pingsFrom(cluster, 0, 1).length, 99);
    });

    it('loses about the configured fraction of messages', () => {
      const { sim, cluster } = pingers({ loss: 0.3 });
      sim.run(1000);
      const got = new Set(pingsFrom(cluster, 1, 0)).size;
      assert.ok(got > 620 && got < 780, `got ${got} of ~1000`);
      assert.ok(sim.counters.dropped.loss > 0);
      assert.equal(sim.counters.duplicated, 0);
    });

    it('duplicates about the configured fraction of messages, each copy delivered', () => {
      const { sim, cluster } = pingers({ duplicate: 0.5 });
      sim.run(1000);
      const got = pingsFrom(cluster, 1, 0);
      const distinct = new Set(got).size;
      assert.ok(distinct >= 995, `distinct ${distinct}`);
      const dups = got.length - distinct;
      assert.ok(dups > 400 && dups < 600, `dups ${dups}`);
      assert.equal(sim.counters.dropped.loss, 0);
      assert.ok(sim.counters.duplicated > 1200);
    });

    it('reorders messages when asked to, and only then', () => {
      const fifo = pingers({ jitterMs: 0 });
      fifo.sim.run(300);
      assert.ok(isSorted(pingsFrom(fifo.cluster, 1, 0)));
      const shuffled = pingers({ jitterMs: 0, reorder: 0.3, reorderDelayMs: 20 });
      shuffled.sim.run(300);
      const got = pingsFrom(shuffled.cluster, 1, 0);
      assert.ok(!isSorted(got));
      assert.ok(new Set(got).size > 250, 'reordering loses nothing');
    });

    it('an isolated node neither sends nor receives until the partition heals', () => {
      const { sim, cluster } = pingers({});
      sim.run(50);
      sim.isolate(r1);
      const before = { to: pingsFrom(cluster, 1, 0).length, from: pingsFrom(cluster, 0, 1).length };
      sim.run(100);
      // Messages already in flight when the partition started are lost too.
      assert.equal(pingsFrom(cluster, 1, 0).length, before.to);
      assert.equal(pingsFrom(cluster, 0, 1).length, before.from);
      assert.ok(pingsFrom(cluster, 2, 0).length > before.to + 90, 'other links are unaffected');
      assert.ok(sim.partitioned);
      sim.heal();
      assert.ok(!sim.partitioned);
      sim.run(50);
      assert.ok(pingsFrom(cluster, 1, 0).length > before.to + 45);
      assert.ok(pingsFrom(cluster, 0, 1).length > before.from + 45);
    });

    it('a one-way partition blocks one direction and leaves the other working', () => {
      const { sim, cluster } = pingers({});
      sim.cut(r0, r1);
      sim.run(100);
      assert.equal(pingsFrom(cluster, 1, 0).length, 0);
      assert.ok(pingsFrom(cluster, 0, 1).length > 95);
      assert.ok(pingsFrom(cluster, 2, 0).length > 95);
      assert.ok(sim.counters.dropped.partition >= 99);
    });

    it('a split blocks links between groups and keeps links inside a group', () => {
      const { sim, cluster } = pingers({});
      sim.split([[r0], [r1, r2]]);
      sim.run(100);
      assert.equal(pingsFrom(cluster, 1, 0).length + pingsFrom(cluster, 2, 0).length, 0);
      assert.equal(pingsFrom(cluster, 0, 1).length + pingsFrom(cluster, 0, 2).length, 0);
      assert.ok(pingsFrom(cluster, 1, 2).length > 95);
      assert.ok(pingsFrom(cluster, 2, 1).length > 95);
    });

    it('a degraded window raises loss until the network is restored', () => {
      const { sim, cluster } = pingers({});
      sim.degrade({ loss: 1, duplicate: 0, reorder: 0 });
      sim.run(100);
      assert.equal(pingsFrom(cluster, 1, 0).length, 0);
      assert.ok(sim.degraded);
      sim.restore();
      sim.run(100);
      assert.ok(pingsFrom(cluster, 1, 0).length > 95);
    });

    it('copyMessage gives the receiver the message as it was when sent', () => {
      const run = (copy: boolean) => {
        const sim = new Simulator<ToyMsg, ToyRecord>({
          seed: 1,
          tickMs: 1,
          tickPhase: false,
          links: { replica: { delayMs: 5, jitterMs: 0 } },
          ...(copy ? { copyMessage: (m: ToyMsg) => structuredClone(m) } : {}),
        });
        const cluster = new ToyCluster({ replicas: 3 });
        sim.addShard(0, 3, cluster.factory);
        const msg: ToyMsg = { type: 'ping', n: 1 };
        cluster.core(0).script.push([{ type: 'send', to: r1, msg }]);
        sim.run(2);
        msg.n = 2;
        sim.run(10);
        return cluster.core(1).pings.map((p) => p.n);
      };
      assert.deepEqual(run(true), [1]);
      assert.deepEqual(run(false), [2]);
    });

    it('describeMessage sets how messages appear in the trace', () => {
      const sim = new Simulator<ToyMsg, ToyRecord>({ seed: 1, trace: 'lines', describeMessage: (m) => m.type.toUpperCase() });
      const cluster = new ToyCluster({ replicas: 3, pingEveryTicks: 1 });
      sim.addShard(0, 3, cluster.factory);
      sim.run(20);
      const sends = sim.traceLines.filter((l) => / s\d+ /.test(l));
      assert.ok(sends.length > 0 && sends.every((l) => l.endsWith(' PING')));
    });

    it('messages due at the same instant are all delivered before one flush', () => {
      const { sim, cluster } = pingers({ delayMs: 3, jitterMs: 0 }, { pingsPerRound: 3 });
      sim.run(100);
      const calls = cluster.core(1).calls;
      const instants = calls.join(' ').split('flush').map((s) => s.trim()).filter((s) => s !== '');
      assert.equal(calls.filter((c) => c === 'flush').length, instants.length, 'one flush per instant with input');
      // From the 4th millisecond on, each instant holds a tick and three pings from each peer.
      const expected = ['tick', ...Array<string>(6).fill('step:ping')].sort();
      for (const seg of instants.slice(4)) assert.deepEqual(seg.split(' ').sort(), expected);
    });
  });
});
