import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { CLIENT_WIRE } from '../../src/client/wire.js';
import { clientAddr, replicaAddr } from '../../src/protocol/common/core.js';
import { shardOf } from '../../src/protocol/common/shardmap.js';
import type { ShardMap } from '../../src/protocol/master/messages.js';
import { parseAddress } from '../../src/transport/tcp.js';
import { Codec, type Message } from '../../src/transport/codec.js';
import { helloFor, withHandshake } from '../../src/transport/handshake.js';
import { admin, digest, isAlive, Proc, run, waitFor, waitForLeaders } from './helpers.js';

const CLUSTER = 'e2e-cli';
const wire = new Codec<Message>(withHandshake(CLIENT_WIRE));

/** Connects a raw socket to `address`, writes `bytes`, and resolves with the frames it got back once the replica closes it. */
async function rawExchange(address: string, bytes: Buffer[], endAfter = false): Promise<Message[]> {
  const { host, port } = parseAddress(address);
  const socket = net.connect({ host, port });
  const frames: Message[] = [];
  const decoder = wire.decoder();
  socket.on('data', (chunk: Buffer) => decoder.push(chunk, (msg) => frames.push(msg)));
  socket.on('error', () => undefined);
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  for (const b of bytes) socket.write(b);
  if (endAfter) socket.end();
  const timer = setTimeout(() => socket.destroy(), 10_000);
  await closed;
  clearTimeout(timer);
  return frames;
}

function oneLine(text: string): boolean {
  return text.endsWith('\n') && text.trimEnd().split('\n').length === 1;
}

describe('e2e › mdlin cluster, kv and status', () => {
  let cluster: Proc;
  let master = '';
  before(async () => {
    cluster = new Proc(['cluster', '--shards', '2', '--replicas', '3', '--no-fsync', '--cluster', CLUSTER]);
    master = await cluster.line(/^master (\S+)\n/m, 60_000);
  });
  after(async () => {
    await cluster.stop();
  });

  const kv = (...args: string[]) => run(['kv', '--master', master, '--cluster', CLUSTER, ...args]);

  it('cluster prints exactly one line, the master address, once every shard has a leader', async () => {
    assert.equal(cluster.stdout, `master ${master}\n`);
    const map = await waitForLeaders(master, CLUSTER, null, 1000);
    assert.equal(map.shards, 2);
  });

  it('status --json lists every shard with its leader and every replica with address, role and pid', async () => {
    const { code, stdout } = await run(['status', '--master', master, '--cluster', CLUSTER, '--json']);
    assert.equal(code, 0);
    const status = JSON.parse(stdout) as { shards: { id: number; leader: number; replicas: { id: number; address: string; role: string; pid: number }[] }[] };
    assert.deepEqual(
      status.shards.map((s) => s.id),
      [0, 1],
    );
    for (const shard of status.shards) {
      assert.deepEqual(
        shard.replicas.map((r) => r.id),
        [0, 1, 2],
      );
      assert.ok(shard.leader >= 0);
      assert.equal(shard.replicas.find((r) => r.id === shard.leader)?.role, 'leader');
      for (const r of shard.replicas) {
        assert.match(r.address, /^127\.0\.0\.1:\d+$/);
        assert.ok(Number.isSafeInteger(r.pid) && isAlive(r.pid), `replica pid ${r.pid} runs`);
      }
    }
    const text = await run(['status', '--master', master, '--cluster', CLUSTER]);
    assert.match(text.stdout, /^shard 1 {2}leader r1\.\d/m);
  });

  it('kv runs each operation and prints its result, plain or as JSON', async () => {
    assert.deepEqual(await kv('put', 'fruit', 'apple'), { code: 0, stdout: '', stderr: '' });
    assert.deepEqual(await kv('get', 'fruit'), { code: 0, stdout: 'apple\n', stderr: '' });
    assert.deepEqual(await kv('get', 'vegetable'), { code: 0, stdout: '', stderr: '' });
    assert.deepEqual(await kv('--json', 'get', 'fruit'), { code: 0, stdout: '{"value":"apple"}\n', stderr: '' });
    assert.deepEqual(await kv('--json', 'get', 'vegetable'), { code: 0, stdout: '{"value":null}\n', stderr: '' });
    assert.deepEqual(await kv('cas', 'fruit', 'apple', 'pear'), { code: 0, stdout: 'true\n', stderr: '' });
    assert.deepEqual(await kv('--json', 'cas', 'fruit', 'apple', 'plum'), { code: 0, stdout: '{"swapped":false}\n', stderr: '' });
    assert.deepEqual(await kv('cas', 'nut', 'almond', '--expect-absent'), { code: 0, stdout: 'true\n', stderr: '' });
    assert.deepEqual(await kv('--json', 'append', 'nut', 's'), { code: 0, stdout: '{"ok":true}\n', stderr: '' });
    assert.deepEqual(await kv('get', 'nut'), { code: 0, stdout: 'almonds\n', stderr: '' });
  });

  it('kv exits 2 when the outcome is unknown, and 1 when the master is unreachable', async () => {
    const map = await waitForLeaders(master, CLUSTER);
    const shard = shardOf('frozen', map.shards);
    const pids = map.replicas.filter((r) => r.shard === shard).map((r) => r.pid);
    for (const pid of pids) process.kill(pid, 'SIGSTOP');
    let unknown;
    try {
      unknown = await kv('--json', '--timeout', '300', 'put', 'frozen', 'x');
    } finally {
      for (const pid of pids) process.kill(pid, 'SIGCONT');
    }
    assert.equal(unknown.code, 2);
    assert.ok(oneLine(unknown.stderr), unknown.stderr);
    assert.match(unknown.stderr, /put "frozen": outcome unknown/);
    assert.equal((JSON.parse(unknown.stdout) as { status: string }).status, 'unknown');

    const unreachable = await run(['kv', '--master', '127.0.0.1:1', 'get', 'k']);
    assert.equal(unreachable.code, 1);
    assert.ok(oneLine(unreachable.stderr), unreachable.stderr);
    assert.match(unreachable.stderr, /ECONNREFUSED/);
    await waitForLeaders(master, CLUSTER);
  });

  it('a replica survives garbage, truncated and oversize frames, and refuses a peer of another cluster', async () => {
    const map: ShardMap = await waitForLeaders(master, CLUSTER);
    const target = map.replicas.find((r) => r.shard === 0 && r.replica === 0);
    assert.ok(target !== undefined);
    const hello = wire.encode(helloFor(clientAddr('raw'), CLUSTER));

    await rawExchange(target.address, [randomBytes(4096)]);
    const truncated = wire.encode({ type: 'getMap' });
    await rawExchange(target.address, [hello, truncated.subarray(0, truncated.length - 1)], true);
    const oversize = Buffer.alloc(8);
    oversize.writeUInt32BE(0xfffffff0, 0);
    await rawExchange(target.address, [hello, oversize]);
    const unknownCode = Buffer.from([0, 0, 0, 4, 1, 0x92, 0xcc, 0xc8]);
    await rawExchange(target.address, [hello, unknownCode]);

    const refused = await rawExchange(target.address, [wire.encode(helloFor(replicaAddr(0, 1), 'another-cluster'))]);
    assert.equal(refused[0]?.type, 'refuse');
    assert.match((refused[0] as Message & { reason: string }).reason, /cluster "another-cluster" is not this cluster "e2e-cli"/);

    assert.ok(isAlive(target.pid), 'the replica still runs');
    const d = await digest(target.address, CLUSTER, 0, 0);
    assert.ok(d.executed >= 0);
    assert.deepEqual((await kv('put', 'after-garbage', 'ok')).code, 0);
    assert.deepEqual(await kv('get', 'after-garbage'), { code: 0, stdout: 'ok\n', stderr: '' });
  });

  it('admin control: a leader blocked from its peers is replaced, and serves again once unblocked', async () => {
    const map = await waitForLeaders(master, CLUSTER);
    const leader = map.leaders[0]!.leader;
    const info = map.replicas.find((r) => r.shard === 0 && r.replica === leader);
    assert.ok(info !== undefined);
    await admin(info.address, CLUSTER, 0, leader, [{ action: 'block', shard: 0, replica: -1 }]);
    try {
      const replaced = await waitForLeaders(master, CLUSTER, { shard: 0, replica: leader });
      assert.notEqual(replaced.leaders[0]!.leader, leader);
    } finally {
      await admin(info.address, CLUSTER, 0, leader, [{ action: 'unblock', shard: 0, replica: -1 }]);
    }
    const key = Array.from({ length: 100 }, (_, i) => `blocked-${i}`).find((k) => shardOf(k, map.shards) === 0) as string;
    assert.equal((await kv('put', key, 'v')).code, 0);
    await waitFor(async () => {
      const d = await Promise.all(
        map.replicas.filter((r) => r.shard === 0).map((r) => admin(r.address, CLUSTER, 0, r.replica)),
      );
      return d.every((x) => x.hash === d[0]!.hash && x.executed === d[0]!.executed) ? true : null;
    }, 'shard 0 to converge after the partition');
  });

  it('bad flags and arguments get one line and exit 2', async () => {
    const cases: string[][] = [
      ['replica', '--master', '127.0.0.1:1', '--shard', 'x', '--id', '0', '--data-dir', '/nonexistent'],
      ['kv', '--master', 'nowhere', 'get', 'k'],
      ['kv', '--master', '127.0.0.1:1', 'cas', 'k', 'v'],
      ['kv', '--master', '127.0.0.1:1'],
      ['master', '--port', '70000'],
      ['cluster', '--shards', '0'],
      ['cluster', '--protocol', 'raft'],
      ['status'],
      ['frobnicate'],
    ];
    const results = await Promise.all(cases.map((args) => run(args)));
    results.forEach((r, i) => {
      const what = `mdlin ${cases[i]!.join(' ')}`;
      assert.equal(r.code, 2, `${what}: exit ${r.code}, stderr ${r.stderr}`);
      assert.equal(r.stdout, '', what);
      assert.ok(oneLine(r.stderr), `${what} printed:\n${r.stderr}`);
    });
  });

  it('SIGTERM stops every child process and exits 0', async () => {
    const map = await waitForLeaders(master, CLUSTER);
    const pids = map.replicas.map((r) => r.pid);
    assert.equal(pids.length, 6);
    const { code } = await cluster.stop();
    assert.equal(code, 0);
    await waitFor(() => (pids.every((pid) => !isAlive(pid)) ? true : null), 'every replica to exit', 5000);
  });
});
