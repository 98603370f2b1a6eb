/**
 * `mdlin bench` end to end: a small matrix (one shard, fanouts 1 and 2, both protocols, short
 * cells) on real local clusters with injected delays; results.json has the contract's shape,
 * every history checks out, requests take at least their injected delays, and the report is
 * written.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { run, tempDir } from '../e2e/helpers.js';

const T_MS = 3;

describe('bench › e2e › mdlin bench', () => {
  const out = tempDir('bench');
  after(() => rmSync(out, { recursive: true, force: true }));

  it('runs a small matrix, writes results.json and the report, and every check is ok', async () => {
    const args = ['bench', '--shards', '1', '--fanouts', '1,2', '--protocols', 'paxos,mdl', '--clients', '1'];
    args.push('--duration', '1.5', '--warmup', '0.3', '--cooldown', '0.2', '--delay-ms', String(T_MS), '--keys', '1000', '--no-fsync', '--phases', '--out', out);
    const { code, stdout, stderr } = await run(args, 90_000);
    assert.equal(code, 0, stderr);
    assert.match(stdout, /paxos p50\s+mdl p50\s+ratio/);
    assert.match(stdout, new RegExp(`report: ${path.join(out, 'report.md').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));

    const results = JSON.parse(readFileSync(path.join(out, 'results.json'), 'utf8')) as Array<Record<string, unknown>>;
    assert.equal(results.length, 4);
    const cells = results.map((r) => `${r['protocol']}/${r['fanout']}`).sort();
    assert.deepEqual(cells, ['mdl/1', 'mdl/2', 'paxos/1', 'paxos/2']);
    for (const r of results) {
      assert.equal(r['shards'], 1);
      assert.equal(r['replicas'], 3);
      assert.equal(r['clients'], 1);
      assert.equal(r['topology'], 'uniform');
      assert.equal(r['delay_ms'], T_MS);
      assert.equal(r['check'], 'ok', `${r['protocol']}/${r['fanout']}: ${String(r['check_detail'])}`);
      assert.ok(typeof r['requests'] === 'number' && r['requests'] > 0);
      assert.ok(typeof r['throughput_rps'] === 'number' && r['throughput_rps'] > 0);
      const latency = r['latency_ms'] as Record<string, number>;
      for (const p of ['p50', 'p90', 'p99', 'mean']) assert.ok(typeof latency[p] === 'number', p);
      // Every request crosses client → leader → replica → leader → client at least once.
      assert.ok((latency['p50'] as number) >= 4 * T_MS, `p50 ${latency['p50']} ms is below 4T: delays are not applied`);
      assert.ok(existsSync(path.join(out, r['history'] as string)));
    }
    const mdl2 = results.find((r) => r['protocol'] === 'mdl' && r['fanout'] === 2) as Record<string, unknown>;
    assert.ok(mdl2['phases_ms'] !== null && typeof mdl2['phases_ms'] === 'object', 'the MDL leaders timed the phases');
    assert.ok(existsSync(path.join(out, 'report.md')));
    assert.ok(readdirSync(out).some((f) => f.endsWith('.svg')));
  });
});
