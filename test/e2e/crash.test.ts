import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { connect, OutcomeUnknownError, type KvClient } from '../../src/client/index.js';
import { WAL_FILE_NAME, WAL_HEADER_BYTES } from '../../src/storage/wal.js';
import { currentMap, digest, Proc, run, tempDir, waitFor, waitForLeaders, type Digest } from './helpers.js';

const CLUSTER = 'e2e-crash';
const WRITES = 1000;
const WRITERS = 4;

describe('e2e › a 3-replica Multi-Paxos shard', () => {
  const dir = tempDir('crash');
  const procs: Proc[] = [];
  const clients: KvClient[] = [];
  after(async () => {
    await Promise.all(clients.map((kv) => kv.close()));
    await Promise.all(procs.map((p) => p.stop()));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  function start(args: string[]): Proc {
    const p = new Proc(args);
    procs.push(p);
    return p;
  }

  const replicas: Proc[] = [];
  function startReplica(master: string, id: number): Proc {
    replicas[id] = start(['replica', '--master', master, '--shard', '0', '--id', String(id), '--data-dir', path.join(dir, `r${id}`), '--cluster', CLUSTER]);
    return replicas[id];
  }

  async function client(master: string, opts: { clientId?: string; pipeline?: number } = {}): Promise<KvClient> {
    const kv = await connect({ master, cluster: CLUSTER, log: () => undefined, ...opts });
    clients.push(kv);
    return kv;
  }

  /** Every acknowledged write reads back; a write of unknown outcome reads as written or absent. */
  async function readBack(master: string, acked: Map<string, string>, unknown: Map<string, string>): Promise<void> {
    const kv = await client(master, { pipeline: 32 });
    await Promise.all(
      [...acked].map(async ([key, value]) => assert.equal(await kv.get(key), value, `acknowledged write of ${key} lost`)),
    );
    await Promise.all(
      [...unknown].map(async ([key, value]) => {
        const got = await kv.get(key);
        assert.ok(got === value || got === null, `${key} holds ${got}, which nobody wrote`);
      }),
    );
  }

  async function digests(master: string): Promise<Digest[] | null> {
    const map = await currentMap(master, CLUSTER);
    if (map === null || map.replicas.length < 3 || map.replicas.some((r) => r.role === 'down')) return null;
    try {
      return await Promise.all(map.replicas.map((r) => digest(r.address, CLUSTER, r.shard, r.replica)));
    } catch {
      return null;
    }
  }

  it('loses no acknowledged write through kill -9 of its leader, catch-up, and a full restart', async (t) => {
    const master = start(['master', '--port', '0', '--cluster', CLUSTER]);
    const masterAddr = await master.line(/^master (\S+)$/m);
    for (let id = 0; id < 3; id++) startReplica(masterAddr, id);
    const leader = (await waitForLeaders(masterAddr, CLUSTER)).leaders[0]!.leader;

    // 1000 writes from 4 single-dispatch clients; the leader is killed once 300 are acknowledged.
    const acked = new Map<string, string>();
    const unknown = new Map<string, string>();
    let killedAt = -1;
    let firstAckAfterKillMs = Infinity;
    await Promise.all(
      Array.from({ length: WRITERS }, async (_, w) => {
        const kv = await client(masterAddr, { clientId: `writer-${w}` });
        for (let i = w; i < WRITES; i += WRITERS) {
          const key = `k${i}`;
          const value = `v${i}`;
          const issuedAt = performance.now();
          try {
            await kv.put(key, value);
            acked.set(key, value);
            if (killedAt >= 0 && issuedAt > killedAt) firstAckAfterKillMs = Math.min(firstAckAfterKillMs, performance.now() - killedAt);
          } catch (err) {
            if (!(err instanceof OutcomeUnknownError)) throw err;
            unknown.set(key, value);
          }
          if (acked.size >= 300 && killedAt < 0) {
            killedAt = performance.now();
            replicas[leader]!.kill('SIGKILL');
          }
        }
      }),
    );
    assert.ok(killedAt >= 0, 'the leader was killed');
    assert.ok(firstAckAfterKillMs < 10_000, `no write issued after the kill was acknowledged within 10 s (${firstAckAfterKillMs} ms)`);
    assert.ok(acked.size >= WRITES - 10, `only ${acked.size} of ${WRITES} writes acknowledged`);
    t.diagnostic(`a write issued after the kill was acknowledged ${Math.round(firstAckAfterKillMs)} ms after it; ${unknown.size} outcomes unknown`);
    const newLeader = (await waitForLeaders(masterAddr, CLUSTER, { shard: 0, replica: leader })).leaders[0]!.leader;
    assert.notEqual(newLeader, leader);
    await readBack(masterAddr, acked, unknown);

    // The killed replica restarts from its data directory and catches up.
    const restarted = startReplica(masterAddr, leader);
    await restarted.line(/^replica r0\.\d (\S+)$/m);
    await waitFor(
      async () => {
        const d = await digests(masterAddr);
        return d !== null && d.every((x) => x.hash === d[0]!.hash && x.executed === d[0]!.executed) ? d : null;
      },
      'the restarted replica to converge',
    );

    // The whole shard and the master stop; the replicas restart from their data dirs while the
    // master is still down (they find each other through their cached maps), then the master.
    const stopped = await Promise.all([master, ...replicas].map((p) => p.stop()));
    assert.deepEqual(
      stopped.map((s) => s.code),
      [0, 0, 0, 0],
    );
    for (let id = 0; id < 3; id++) startReplica(masterAddr, id);
    await Promise.all(replicas.map((p) => p.line(/^replica /m)));
    const port = masterAddr.slice(masterAddr.lastIndexOf(':') + 1);
    const master2 = start(['master', '--port', port, '--cluster', CLUSTER]);
    await master2.line(/^master /m);
    await waitForLeaders(masterAddr, CLUSTER);
    await readBack(masterAddr, acked, unknown);
  });

  it('refuses a data directory of another replica, and a corrupt log, in one line', async () => {
    const master = start(['master', '--port', '0', '--replicas', '1', '--cluster', 'e2e-datadir']);
    const masterAddr = await master.line(/^master (\S+)$/m);
    const own = tempDir('datadir');
    try {
      const first = start(['replica', '--master', masterAddr, '--shard', '0', '--id', '0', '--data-dir', own, '--cluster', 'e2e-datadir']);
      await first.line(/^replica /m);
      // Something for the log to hold, then a clean stop.
      const kv = await connect({ master: masterAddr, cluster: 'e2e-datadir', log: () => undefined });
      for (let i = 0; i < 3; i++) await kv.put(`k${i}`, 'v');
      await kv.close();
      assert.equal((await first.stop()).code, 0);

      const other = await run(['replica', '--master', masterAddr, '--shard', '0', '--id', '2', '--data-dir', own, '--cluster', 'e2e-datadir']);
      assert.equal(other.code, 1);
      assert.match(other.stderr, /^mdlin: r0\.2: data directory .* belongs to .*replica 0.*\n$/);

      const wal = path.join(own, WAL_FILE_NAME);
      const bytes = fs.readFileSync(wal);
      bytes[WAL_HEADER_BYTES + 10] = (bytes[WAL_HEADER_BYTES + 10] as number) ^ 0xff;
      fs.writeFileSync(wal, bytes);
      const corrupt = await run(['replica', '--master', masterAddr, '--shard', '0', '--id', '0', '--data-dir', own, '--cluster', 'e2e-datadir']);
      assert.equal(corrupt.code, 1);
      assert.match(corrupt.stderr, /^mdlin: r0\.0: write-ahead log .*wal\.log is corrupt at byte 8: .*\n$/);
    } finally {
      fs.rmSync(own, { recursive: true, force: true });
    }
  });
});
