import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { clientAddr, type Address, type Output, type ReplicaStatus } from '../../src/protocol/common/core.js';
import type { Command } from '../../src/protocol/common/kv.js';
import type { ClientMessage, Reply } from '../../src/protocol/common/messages.js';
import { MP_RECORDS, type MultiPaxosRecord } from '../../src/protocol/multipaxos/messages.js';
import { SeededRng } from '../../src/protocol/common/rng.js';
import { RUNTIME_DEFAULTS, type ReplicaParams } from '../../src/runtime/config.js';
import { ReplicaHost, type HostedCore } from '../../src/runtime/host.js';
import { PAXOS } from '../../src/runtime/protocols.js';
import { openWal, WAL_FILE_NAME, WAL_HEADER_BYTES, type Wal } from '../../src/storage/wal.js';

const CLIENT = clientAddr('c');

function reply(seq: number): Reply {
  return { type: 'reply', seq, status: 'ok', output: null, leader: 0 };
}

function promise(ballot: number): MultiPaxosRecord {
  return { type: 'promise', ballot };
}

/** A core that answers each `step` with the next scripted list of outputs. */
class ScriptedCore implements HostedCore<ClientMessage, MultiPaxosRecord> {
  constructor(private readonly script: Output<ClientMessage, MultiPaxosRecord>[][]) {}

  step(): Output<ClientMessage, MultiPaxosRecord>[] {
    const next = this.script.shift();
    assert.ok(next !== undefined, 'the script ran out');
    return next;
  }

  tick(): Output<ClientMessage, MultiPaxosRecord>[] {
    return [];
  }

  flush(): Output<ClientMessage, MultiPaxosRecord>[] {
    return [];
  }

  status(): ReplicaStatus {
    return { role: 'follower', ballot: 0, leader: -1, executed: 0 };
  }

  checkInvariants(): void {}

  stateDigest(): { executed: number; entries: [string, string][] } {
    return { executed: 0, entries: [] };
  }

  compactRecords(): MultiPaxosRecord[] {
    return [];
  }
}

const persist = (record: MultiPaxosRecord): Output<ClientMessage, MultiPaxosRecord> => ({ type: 'persist', record, lazy: false });
const send = (msg: ClientMessage, to: Address = CLIENT): Output<ClientMessage, MultiPaxosRecord> => ({ type: 'send', to, msg });

/** Records in the log file as it is on disk now (complete ones only). */
function recordsOnDisk(dir: string): number {
  const bytes = fs.readFileSync(path.join(dir, WAL_FILE_NAME));
  let n = 0;
  for (let offset = WAL_HEADER_BYTES; offset + 8 <= bytes.length; n++) {
    const end = offset + 8 + bytes.readUInt32BE(offset);
    if (end > bytes.length) break;
    offset = end;
  }
  return n;
}

function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

async function until(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const start = performance.now();
  while (!condition()) {
    if (performance.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

describe('replica host', () => {
  const dirs: string[] = [];
  const wals: Wal<MultiPaxosRecord>[] = [];
  after(async () => {
    await Promise.all(wals.map((w) => w.close()));
    for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
  });

  async function setup(
    script: Output<ClientMessage, MultiPaxosRecord>[][],
    fsync = true,
  ): Promise<{ host: ReplicaHost<ClientMessage, MultiPaxosRecord>; dir: string; wal: Wal<MultiPaxosRecord>; sent: { seq: number; onDisk: number }[] }> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mdlin-host-'));
    dirs.push(dir);
    const { wal } = await openWal(dir, MP_RECORDS, { fsync, log: () => undefined });
    wals.push(wal);
    const sent: { seq: number; onDisk: number }[] = [];
    const host = new ReplicaHost<ClientMessage, MultiPaxosRecord>({
      core: new ScriptedCore(script),
      wal,
      deliver: (_to, msg) => {
        assert.equal(msg.type, 'reply');
        sent.push({ seq: (msg as Reply).seq, onDisk: recordsOnDisk(dir) });
      },
      tickMs: 1000,
      walCompactBytes: 64 * 1024 * 1024,
      onFatal: (err) => assert.fail(err),
    });
    return { host, dir, wal, sent };
  }

  it('a send with nothing to wait for leaves at once', async () => {
    const { host, sent } = await setup([[send(reply(1))]]);
    host.step(CLIENT, reply(0));
    assert.deepEqual(sent, [{ seq: 1, onDisk: 0 }]);
  });

  it('a send after a persist leaves only once the record is synced', async () => {
    const { host, sent, wal } = await setup([[persist(promise(1)), send(reply(1))]]);
    host.step(CLIENT, reply(0));
    assert.equal(sent.length, 0, 'nothing leaves before the sync');
    await until(() => sent.length === 1, 'the send');
    assert.deepEqual(sent, [{ seq: 1, onDisk: 1 }]);
    assert.equal(wal.syncRounds, 1);
    await host.stop();
  });

  it('a send after a lazy persist (a relearnable commit mark) does not wait, and the record is still written', async () => {
    const lazy: Output<ClientMessage, MultiPaxosRecord> = { type: 'persist', record: { type: 'commit', slot: 0, ballot: 1 }, lazy: true };
    const { host, sent, dir } = await setup([[lazy, send(reply(1))]]);
    host.step(CLIENT, reply(0));
    assert.deepEqual(sent, [{ seq: 1, onDisk: 0 }]);
    await nextTurn();
    assert.equal(recordsOnDisk(dir), 0, 'no sync of its own at the end of the burst');
    host.start();
    await until(() => recordsOnDisk(dir) === 1, 'the lazy record on disk by the next tick');
    await host.stop();
  });

  it('a send waits for a persist output by an earlier step', async () => {
    const { host, sent } = await setup([[persist(promise(1))], [send(reply(2))]]);
    host.step(CLIENT, reply(0));
    host.step(CLIENT, reply(0));
    assert.equal(sent.length, 0);
    await until(() => sent.length === 1, 'the send');
    assert.deepEqual(sent, [{ seq: 2, onDisk: 1 }]);
    await host.stop();
  });

  it('sends are FIFO: none overtakes an earlier send waiting for a sync', async () => {
    const { host, sent } = await setup([
      [persist(promise(1)), send(reply(1))],
      [send(reply(2))],
      [persist(promise(2)), send(reply(3))],
    ]);
    host.step(CLIENT, reply(0));
    await nextTurn();
    // The first sync is in flight: a send with nothing new to wait for still queues behind reply 1.
    host.step(CLIENT, reply(0));
    host.step(CLIENT, reply(0));
    assert.equal(sent.length, 0);
    await until(() => sent.length === 3, 'every send');
    assert.deepEqual(
      sent.map((s) => s.seq),
      [1, 2, 3],
    );
    assert.ok(sent[0]!.onDisk >= 1 && sent[2]!.onDisk === 2, `sent before their records were on disk: ${JSON.stringify(sent)}`);
    await host.stop();
  });

  it('group commit: everything appended in one turn shares one sync', async () => {
    const script = Array.from({ length: 100 }, (_, i) => [persist(promise(i + 1)), send(reply(i))]);
    const { host, sent, wal } = await setup(script);
    for (let i = 0; i < 100; i++) host.step(CLIENT, reply(0));
    await until(() => sent.length === 100, 'every send');
    assert.equal(wal.syncRounds, 1);
    assert.deepEqual(
      sent.map((s) => s.seq),
      Array.from({ length: 100 }, (_, i) => i),
    );
    assert.ok(sent.every((s) => s.onDisk === 100));
    await host.stop();
  });

  it('without fsync, sends do not wait for the log', async () => {
    const { host, sent, dir } = await setup([[persist(promise(1)), send(reply(1))]], false);
    host.step(CLIENT, reply(0));
    assert.deepEqual(sent, [{ seq: 1, onDisk: 0 }], 'the send left before the record was written');
    await until(() => recordsOnDisk(dir) === 1, 'the record to be written anyway');
    await host.stop();
  });
});

describe('replica host › restart', () => {
  const dirs: string[] = [];
  after(() => {
    for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
  });

  const params: ReplicaParams = {
    shard: 0,
    replica: 0,
    shards: 1,
    replicas: 1,
    thrifty: false,
    replyAtCommit: false,
    observePhases: false,
    limits: { ...RUNTIME_DEFAULTS, tickMs: 1, heartbeatMs: 2, electionTimeoutMs: 10, resendMs: 2, logRetainSlots: 64, pipelineSlotsMax: 8 },
  };

  /** A one-replica Multi-Paxos shard hosted on the log in `dir`; returns its replies by seq. */
  async function hostShard(dir: string, walCompactBytes: number) {
    const { wal, records } = await PAXOS.openWal(dir, { log: () => undefined });
    const core = PAXOS.createCore(params, new SeededRng(1), records);
    const replies = new Map<number, Reply>();
    const host = new ReplicaHost({
      core,
      wal,
      deliver: (_to, msg) => {
        if (msg.type === 'reply') replies.set(msg.seq, msg);
      },
      tickMs: 1,
      walCompactBytes,
      onFatal: (err) => assert.fail(err),
      checkInvariants: true,
    });
    host.start();
    await until(() => core.status().role === 'leader', 'the replica to lead');
    return { wal, core, host, replies };
  }

  async function putAll(shard: Awaited<ReturnType<typeof hostShard>>, from: number, to: number): Promise<void> {
    for (let seq = from; seq < to; seq++) {
      const cmd: Command = { client: 'c', seq, op: 'put', key: `k${seq % 50}`, value: `v${seq}`, expect: null };
      shard.host.step(CLIENT, { type: 'request', cmd });
      await until(() => shard.replies.has(seq), `the reply to ${seq}`);
      assert.equal(shard.replies.get(seq)?.status, 'ok');
    }
  }

  it('a restarted replica recovers every acknowledged write from its log', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mdlin-restart-'));
    dirs.push(dir);
    const first = await hostShard(dir, 64 * 1024 * 1024);
    await putAll(first, 0, 100);
    const before = first.core.stateDigest();
    await first.host.stop();
    await first.wal.close();

    const second = await hostShard(dir, 64 * 1024 * 1024);
    assert.deepEqual(second.core.stateDigest().entries, before.entries);
    await second.host.stop();
    await second.wal.close();
  });

  it('compaction rewrites the log from a snapshot and loses nothing appended meanwhile', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mdlin-compact-'));
    dirs.push(dir);
    const first = await hostShard(dir, 4096);
    await putAll(first, 0, 400);
    assert.ok(first.host.counters.compactions >= 2, `compactions: ${first.host.counters.compactions}`);
    const before = first.core.stateDigest();
    await first.host.stop();
    await first.wal.close();

    const second = await hostShard(dir, 4096);
    assert.deepEqual(second.core.stateDigest().entries, before.entries);
    assert.equal(second.core.stateDigest().entries.length, 50);
    await second.host.stop();
    await second.wal.close();
  });
});
