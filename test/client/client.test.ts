import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseHistory } from '../../src/check/history.js';
import { connect, ConnectError, OperationFailedError, OutcomeUnknownError, type KvClient } from '../../src/client/index.js';
import { startMaster, type RunningMaster } from '../../src/master/server.js';
import { SILENT_LOG } from '../../src/runtime/log.js';
import { PAXOS } from '../../src/runtime/protocols.js';
import { startReplica, type RunningReplica } from '../../src/runtime/replica.js';

const CLUSTER = 'client-test';
const CLIENT_INDEX = new URL('../../src/client/index.js', import.meta.url).href;

/** A master and a 3-replica shard in this process, logging nothing, without fsync. */
async function startShard(dir: string): Promise<{ master: RunningMaster; replicas: RunningReplica[] }> {
  const master = await startMaster({ cluster: CLUSTER, protocol: 'paxos', shards: 1, replicasPerShard: 3, port: 0, log: SILENT_LOG });
  const replicas = await Promise.all(
    [0, 1, 2].map((replica) =>
      startReplica(PAXOS, {
        master: master.address,
        cluster: CLUSTER,
        shard: 0,
        replica,
        dataDir: path.join(dir, `r${replica}`),
        fsync: false,
        thrifty: false,
        replyAtCommit: false,
        log: SILENT_LOG,
        onFatal: (err) => assert.fail(err),
      }),
    ),
  );
  return { master, replicas };
}

function timers(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
}

async function untilLeader(master: RunningMaster): Promise<void> {
  while (master.map().leaders[0]?.leader === -1) await new Promise((resolve) => setTimeout(resolve, 10));
}

describe('client library', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mdlin-client-'));
  let shard: { master: RunningMaster; replicas: RunningReplica[] };
  const clients: KvClient[] = [];
  before(async () => {
    shard = await startShard(dir);
    await untilLeader(shard.master);
  });
  after(async () => {
    await Promise.all(clients.map((kv) => kv.close()));
    await Promise.all(shard.replicas.map((r) => r.close()));
    await shard.master.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function client(opts: { history?: string; pipeline?: number; clientId?: string } = {}): Promise<KvClient> {
    const kv = await connect({ master: shard.master.address, cluster: CLUSTER, log: () => undefined, ...opts });
    clients.push(kv);
    return kv;
  }

  it('fails fast with a ConnectError naming the master when it is unreachable', async () => {
    await assert.rejects(connect({ master: '127.0.0.1:1', log: () => undefined }), (err: Error) => {
      assert.ok(err instanceof ConnectError);
      assert.match(err.message, /127\.0\.0\.1:1.*ECONNREFUSED/);
      return true;
    });
  });

  it('runs get, put, cas and append with their results', async () => {
    const kv = await client();
    assert.equal(await kv.get('a'), null);
    await kv.put('a', '1');
    assert.equal(await kv.get('a'), '1');
    assert.equal(await kv.cas('a', '2', '3'), false);
    assert.equal(await kv.cas('a', '1', '3'), true);
    assert.equal(await kv.cas('b', null, 'x'), true);
    await kv.append('b', 'y');
    await kv.append('c', 'z');
    assert.equal(await kv.get('b'), 'xy');
    assert.equal(await kv.get('c'), 'z');
  });

  it('single dispatch: concurrent calls go out one at a time, in issue order', async () => {
    const kv = await client();
    await Promise.all(Array.from({ length: 20 }, (_, i) => kv.append('order', `${i},`)));
    assert.equal(await kv.get('order'), Array.from({ length: 20 }, (_, i) => `${i},`).join(''));
  });

  it('an idle client arms no timer', async () => {
    const before = timers();
    const kv = await client();
    await kv.put('idle', '1');
    await kv.get('idle');
    assert.equal(timers(), before);
  });

  it('records every operation in the history file, in HISTORY.md format', async () => {
    const file = path.join(dir, 'history.jsonl');
    const kv = await client({ history: file, clientId: 'recorded', pipeline: 4 });
    await Promise.all([kv.put('h', '1'), kv.get('h'), kv.cas('h', '1', '2'), kv.append('h', '3')]);
    await kv.close();
    const ops = parseHistory(fs.readFileSync(file, 'utf8')).sort((a, b) => a.seq - b.seq);
    assert.deepEqual(
      ops.map((o) => [o.client, o.seq, o.op, o.status]),
      [
        ['recorded', 0, 'put', 'ok'],
        ['recorded', 1, 'get', 'ok'],
        ['recorded', 2, 'cas', 'ok'],
        ['recorded', 3, 'append', 'ok'],
      ],
    );
    assert.equal(ops[2]?.expect, '1');
    assert.equal(ops[2]?.output, true);
    for (const o of ops) assert.ok(o.ret !== null && o.ret >= o.call);
  });

  it('close: queued calls fail, calls in flight end unknown and are recorded with ret null', async () => {
    const file = path.join(dir, 'closed.jsonl');
    // A master that knows no replica: nothing can be sent, so calls stay in flight.
    const lonely = await startMaster({ cluster: 'lonely', protocol: 'paxos', shards: 1, replicasPerShard: 3, port: 0, log: SILENT_LOG });
    try {
      const kv = await connect({ master: lonely.address, cluster: 'lonely', history: file, clientId: 'closer', log: () => undefined });
      const inflight = assert.rejects(kv.put('x', '1'), OutcomeUnknownError);
      const queued = assert.rejects(kv.get('x'), OperationFailedError);
      await kv.close();
      await inflight;
      await queued;
      const ops = parseHistory(fs.readFileSync(file, 'utf8'));
      assert.equal(ops.length, 1);
      assert.equal(ops[0]?.status, 'unknown');
      assert.equal(ops[0]?.ret, null);
    } finally {
      await lonely.close();
    }
  });

  it('a process that exits with operations in flight leaves them in the history as unknown', async () => {
    const file = path.join(dir, 'exit.jsonl');
    const lonely = await startMaster({ cluster: 'lonely', protocol: 'paxos', shards: 1, replicasPerShard: 3, port: 0, log: SILENT_LOG });
    try {
      const script = `
        const { connect } = await import(${JSON.stringify(CLIENT_INDEX)});
        const kv = await connect({ master: ${JSON.stringify(lonely.address)}, cluster: 'lonely', history: ${JSON.stringify(file)}, clientId: 'exiter', log: () => {} });
        kv.put('x', '1').catch(() => {});
        setTimeout(() => process.exit(0), 50);`;
      const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: 'inherit' });
      const code = await new Promise((resolve) => child.once('exit', resolve));
      assert.equal(code, 0);
      const ops = parseHistory(fs.readFileSync(file, 'utf8'));
      assert.deepEqual(
        ops.map((o) => [o.client, o.seq, o.op, o.status, o.ret]),
        [['exiter', 0, 'put', 'unknown', null]],
      );
    } finally {
      await lonely.close();
    }
  });
});
