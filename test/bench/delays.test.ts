/**
 * Injected link delays: each link's class from its two ends, the presets' delays per class,
 * the topology file (per-pair rules, both ways or one way, the last match winning, and errors
 * that name the field), and the replica's side (its delay function and stretched timers).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { classTopology, delayFrom, linkClass, linkDelayMs, maxDelaysMs, parseTopology, TopologyFileError, type Endpoint } from '../../src/bench/delays.js';
import { topologyDelaysMs } from '../../src/bench/model.js';
import { replicaDelayFlags, replicaDelays, slowLinkLimits, topologyArg } from '../../src/cli/delays.js';
import { clientAddr, replicaAddr } from '../../src/protocol/common/core.js';
import { checkRuntimeLimits, RUNTIME_DEFAULTS } from '../../src/runtime/config.js';

const r = replicaAddr;
const client = clientAddr('alice');
const master: Endpoint = { kind: 'master' };

describe('bench › delays › classes', () => {
  it('a client and a replica: client↔leader; one shard: leader↔replica; two shards: leader↔leader', () => {
    assert.equal(linkClass(client, r(2, 1)), 'clientLeader');
    assert.equal(linkClass(r(2, 1), client), 'clientLeader');
    assert.equal(linkClass(r(0, 0), r(0, 2)), 'leaderReplica');
    assert.equal(linkClass(r(0, 0), r(1, 0)), 'leaderLeader');
  });

  it('the master is never delayed', () => {
    assert.equal(linkClass(master, r(0, 0)), null);
    assert.equal(linkDelayMs(classTopology({ clientLeader: 9, leaderLeader: 9, leaderReplica: 9 }), r(0, 0), master), 0);
  });

  it('edge at scale 2: clients and replicas 90 ms from leaders, leaders 2 ms apart', () => {
    const edge = classTopology(topologyDelaysMs('edge', 2));
    assert.equal(linkDelayMs(edge, client, r(0, 0)), 90);
    assert.equal(linkDelayMs(edge, r(0, 0), client), 90);
    assert.equal(linkDelayMs(edge, r(0, 0), r(0, 1)), 90);
    assert.equal(linkDelayMs(edge, r(0, 0), r(3, 0)), 2);
  });

  it('a delay function answers the same for a peer every time', () => {
    const geo = delayFrom(classTopology(topologyDelaysMs('geo', 1)), r(1, 0));
    for (let i = 0; i < 3; i++) {
      assert.equal(geo(client), 1);
      assert.equal(geo(r(1, 2)), 45);
      assert.equal(geo(r(0, 0)), 45);
      assert.equal(geo(master), 0);
    }
  });
});

describe('bench › delays › topology file', () => {
  const text = JSON.stringify({
    clientLeader: 5,
    leaderLeader: 10,
    links: [
      { between: ['r0.*', 'r1.*'], ms: 40 },
      { from: 'client', to: 'r2.*', ms: 25 },
      { from: 'r1.0', to: 'r0.0', ms: 7 },
    ],
  });
  const t = parseTopology(text, 'wan.json');

  it('classes not given are 0; a link no rule matches gets its class delay', () => {
    assert.deepEqual(t.classes, { clientLeader: 5, leaderLeader: 10, leaderReplica: 0 });
    assert.equal(linkDelayMs(t, r(0, 0), r(0, 1)), 0);
    assert.equal(linkDelayMs(t, r(0, 0), r(2, 0)), 10);
    assert.equal(linkDelayMs(t, client, r(0, 1)), 5);
  });

  it('"between" applies both ways, "from"/"to" one way, and the last matching rule wins', () => {
    assert.equal(linkDelayMs(t, r(0, 2), r(1, 1)), 40);
    assert.equal(linkDelayMs(t, r(1, 1), r(0, 2)), 40);
    assert.equal(linkDelayMs(t, client, r(2, 2)), 25);
    assert.equal(linkDelayMs(t, r(2, 2), client), 5);
    assert.equal(linkDelayMs(t, r(1, 0), r(0, 0)), 7);
    assert.equal(linkDelayMs(t, r(0, 0), r(1, 0)), 40);
  });

  it('the largest delay per class counts the rules that may apply to it', () => {
    assert.deepEqual(maxDelaysMs(t), { clientLeader: 25, leaderLeader: 40, leaderReplica: 0 });
  });

  it('a bad file gets an error naming the file and the field', () => {
    const bad = (json: unknown, pattern: RegExp): void => {
      assert.throws(() => parseTopology(JSON.stringify(json), 'x.json'), (err: unknown) => err instanceof TopologyFileError && pattern.test(err.message));
    };
    bad({ clientLeader: -1 }, /x\.json: "clientLeader": expected a delay/);
    bad({ leaderleader: 1 }, /unknown field "leaderleader"/);
    bad({ links: [{ between: ['r0.*'], ms: 1 }] }, /links\[0\]: expected "between"/);
    bad({ links: [{ from: 'replica0', to: 'r1.1', ms: 1 }] }, /links\[0\]\.from: expected "r<shard>\.<replica>"/);
    bad({ links: [{ from: 'client', to: 'r1.1' }] }, /links\[0\]\.ms/);
    assert.throws(() => parseTopology('{', 'x.json'), /x\.json: not JSON/);
  });
});

describe('bench › delays › replicas', () => {
  it('presets become class flags; nothing delayed, no flags; a file is handed over by path', () => {
    assert.deepEqual(replicaDelayFlags({ preset: 'geo' }, 2), ['--delay-client-ms', '2', '--delay-shard-ms', '90', '--delay-replica-ms', '90']);
    assert.deepEqual(replicaDelayFlags({ preset: 'uniform' }, 0), []);
    const dir = mkdtempSync(path.join(tmpdir(), 'mdlin-delays-'));
    try {
      const file = path.join(dir, 'wan.json');
      writeFileSync(file, JSON.stringify({ leaderReplica: 3 }));
      const arg = topologyArg(file);
      assert.deepEqual(replicaDelayFlags(arg, 1), ['--topology', file]);
      const fromFile = replicaDelays({ topology: file, delayShardMs: 8 }, 0, 1);
      assert.ok(fromFile !== null);
      assert.equal(fromFile.linkDelayMs(r(0, 0)), 3);
      assert.equal(fromFile.linkDelayMs(r(1, 0)), 8, 'a class flag overrides the file');
      assert.equal(fromFile.linkDelayMs(client), 0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    assert.equal(replicaDelays({}, 0, 0), null);
  });

  it('slow links stretch the replica timers into limits a replica accepts', () => {
    const limits = { ...RUNTIME_DEFAULTS, ...slowLinkLimits(topologyDelaysMs('geo', 3)) };
    checkRuntimeLimits(limits);
    assert.ok(limits.resendMs > 2 * 135, 'an Accept is not resent before its round trip can come back');
    assert.ok(limits.coordTimeoutMs > 64 * 135, 'a whole window of leader-to-leader hops fits in the coordination timeout');
  });
});
