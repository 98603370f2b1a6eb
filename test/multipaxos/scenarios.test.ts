/**
 * Multi-Paxos under failures, in the deterministic simulator. Each scenario reads as the argument:
 * break something, let the cluster act, heal, and check that no acknowledged write is lost (the
 * history is linearizable, including reads issued after healing), that replicas never disagree on
 * a chosen slot, that they converge, and that clients make progress again.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { replicaAddr } from '../../src/protocol/common/core.js';
import { assertConverged, assertLogsAgree, assertHistory, simCluster, type SimClusterOptions } from '../helpers/simcluster.js';

const RUN_MS = 4000;
const HEAL_MS = 2500;

/** Runs a closed-loop workload with `breakIt` at 1 s and everything healed by 2.5 s, then checks. */
function scenario(o: SimClusterOptions, breakIt: (s: ReturnType<typeof simCluster>) => void) {
  const s = simCluster(o);
  s.workload.closedLoop({ outstandingMax: o.mode === 'pipeline' ? 4 : 1, startMs: 100, stopMs: RUN_MS });
  s.sim.at(1000, () => breakIt(s));
  s.sim.at(HEAL_MS, () => {
    s.sim.heal();
    s.sim.restore();
    for (let r = 0; r < s.replicas; r++) if (!s.sim.isUp(replicaAddr(0, r))) s.sim.restart(replicaAddr(0, r));
  });
  s.sim.run(RUN_MS + 1500);
  assertLogsAgree(s);
  assertConverged(s, s.sim.nowMs + 2000);
  const history = s.workload.history();
  const okAfterHeal = history.filter((h) => h.status === 'ok' && h.call > (HEAL_MS + 1000) * 1e6).length;
  assert.ok(okAfterHeal > 0, `seed ${o.seed}: no progress after healing`);
  assertHistory(history, 'linearizable', o.seed);
  return { s, history };
}

function leader(s: ReturnType<typeof simCluster>) {
  const l = s.sim.leaderOf(0);
  assert.ok(l !== null, 'a leader was elected before the fault');
  return l;
}

describe('multipaxos › scenarios', () => {
  it('leader crash: a new leader is elected and no acknowledged write is lost', () => {
    const { s } = scenario({ seed: 11 }, (s) => s.sim.crash(leader(s)));
    assert.ok((s.sim.counters.crashes ?? 0) >= 1);
  });

  it('isolated leader: the majority replaces it and the old leader steps down', () => {
    let old = replicaAddr(0, 0);
    const { s } = scenario({ seed: 12 }, (s) => {
      old = leader(s);
      s.sim.isolate(old);
    });
    const now = s.sim.leaderOf(0);
    assert.ok(now !== null);
    assert.equal(s.sim.replica(old)?.status().role === 'leader' && now.replica !== old.replica, false);
  });

  it('minority partition: the side with a quorum keeps serving', () => {
    scenario({ seed: 13, clients: 4 }, (s) => {
      const l = leader(s);
      const other = (l.replica + 1) % s.replicas;
      s.sim.split([[l], [replicaAddr(0, other), replicaAddr(0, (l.replica + 2) % s.replicas)]]);
    });
  });

  it('loss, duplication and reordering: every message fault at once, still linearizable', () => {
    scenario({ seed: 14, mode: 'pipeline' }, (s) => s.sim.degrade({ loss: 0.25, duplicate: 0.25, reorder: 0.4 }));
  });

  it('a lagging follower catches up, from a snapshot when the leader dropped the slots it needs', () => {
    let lagging = replicaAddr(0, 0);
    const { s } = scenario({ seed: 15, clients: 4, mode: 'pipeline', replica: { logRetainSlots: 16, pipelineSlotsMax: 4 } }, (s) => {
      lagging = replicaAddr(0, (leader(s).replica + 1) % s.replicas);
      s.sim.crash(lagging);
    });
    const digests = s.sim.digests(0);
    assert.equal(new Set(digests.map((d) => d.digest)).size, 1);
    assert.ok(digests.some((d) => d.replica === lagging.replica));
  });

  it('every replica restarted from its disk: all acknowledged writes are still there', () => {
    scenario({ seed: 16, sim: { fsyncMs: 2 } }, (s) => {
      for (let r = 0; r < s.replicas; r++) s.sim.crash(replicaAddr(0, r));
      s.sim.after(300, () => {
        for (let r = 0; r < s.replicas; r++) s.sim.restart(replicaAddr(0, r));
      });
    });
  });

  it('two shards: a crash in one does not stop the other', () => {
    scenario({ seed: 17, shards: 2, clients: 4, keys: 8 }, (s) => s.sim.crash(leader(s)));
  });
});
