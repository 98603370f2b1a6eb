/**
 * MDL on real processes: 3 shards × 3 replicas, multi-dispatch clients, the leaders of two shards
 * killed with SIGKILL during the run and restarted from their data directories; the merged
 * client history must pass `mdlin check --model mdl`.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { connect, OperationFailedError, OutcomeUnknownError, type KvClient } from '../../src/client/index.js';
import { Proc, run, tempDir, waitForLeaders } from './helpers.js';

const CLUSTER = 'e2e-mdl';
const SHARDS = 3;
const REPLICAS = 3;

describe('e2e › MDL across 3 shards with leader kills', () => {
  const dir = tempDir('mdl');
  const procs: Proc[] = [];
  after(async () => {
    await Promise.all(procs.map((p) => p.stop()));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  function start(args: string[]): Proc {
    const p = new Proc(args);
    procs.push(p);
    return p;
  }

  const replicas = new Map<string, Proc>();
  function startReplica(master: string, shard: number, id: number): void {
    const args = ['replica', '--master', master, '--shard', String(shard), '--id', String(id), '--data-dir', path.join(dir, `r${shard}.${id}`), '--cluster', CLUSTER, '--protocol', 'mdl'];
    replicas.set(`${shard}.${id}`, start(args));
  }

  /** Issues requests of several operations at once until `stopAt`; every outcome is allowed, none may break MDL. */
  async function workload(kv: KvClient, name: string, stopAt: number): Promise<{ ok: number; other: number }> {
    let ok = 0;
    let other = 0;
    for (let round = 0; performance.now() < stopAt; round++) {
      const ops = Array.from({ length: 6 }, (_, i) => {
        const key = `k${(round * 7 + i * 5) % 12}`;
        switch ((round + i) % 4) {
          case 0:
            return kv.put(key, `${name}.${round}.${i}`);
          case 1:
            return kv.append(key, `${name}.${round}.${i};`);
          default:
            return kv.get(key);
        }
      });
      for (const r of await Promise.allSettled(ops)) {
        if (r.status === 'fulfilled') ok++;
        else if (r.reason instanceof OperationFailedError || r.reason instanceof OutcomeUnknownError) other++;
        else throw r.reason;
      }
    }
    return { ok, other };
  }

  it('every outcome during failovers is ok, fail or unknown, and the history is MDL', async () => {
    const master = start(['master', '--port', '0', '--shards', String(SHARDS), '--replicas', String(REPLICAS), '--protocol', 'mdl', '--cluster', CLUSTER]);
    const address = await master.line(/^master (\S+)$/m);
    for (let s = 0; s < SHARDS; s++) for (let r = 0; r < REPLICAS; r++) startReplica(address, s, r);
    await waitForLeaders(address, CLUSTER, null, 30_000);

    const histories = ['a', 'b', 'c'].map((c) => path.join(dir, `${c}.jsonl`));
    const clients = await Promise.all(
      histories.map((history, i) => connect({ master: address, cluster: CLUSTER, history, clientId: `client-${i}`, timeoutMs: 4000, log: () => undefined })),
    );
    const startedAt = performance.now();
    const running = clients.map((kv, i) => workload(kv, `c${i}`, startedAt + 9000));

    for (const [atMs, shard] of [[2000, 1], [5000, 2]] as const) {
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, startedAt + atMs - performance.now())));
      const map = await waitForLeaders(address, CLUSTER);
      const leader = map.leaders[shard]?.leader ?? -1;
      assert.ok(leader >= 0);
      const victim = replicas.get(`${shard}.${leader}`) as Proc;
      victim.kill('SIGKILL');
      await victim.exited;
      setTimeout(() => startReplica(address, shard, leader), 1500);
    }

    const counts = await Promise.all(running);
    await Promise.all(clients.map((kv) => kv.close()));
    const ok = counts.reduce((n, c) => n + c.ok, 0);
    assert.ok(ok > 100, `only ${ok} operations succeeded`);

    const merged = path.join(dir, 'merged.jsonl');
    fs.writeFileSync(merged, histories.map((h) => fs.readFileSync(h, 'utf8')).join(''));
    const check = await run(['check', '--model', 'mdl', '--timeout', '120', merged], 180_000);
    assert.equal(check.code, 0, `mdlin check: ${check.stdout}\n${check.stderr}`);
    assert.match(check.stdout, /^ok/m);
  });
});
