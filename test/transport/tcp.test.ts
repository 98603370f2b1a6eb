import assert from 'node:assert/strict';
import net from 'node:net';
import { after, describe, it } from 'node:test';
import { clientAddr, replicaAddr } from '../../src/protocol/common/core.js';
import { WIRE_MESSAGES, type WireMessage } from '../../src/protocol/wire.js';
import { ClientConnection } from '../../src/transport/client.js';
import { Codec, WIRE_VERSION, type Message } from '../../src/transport/codec.js';
import { helloFor, withHandshake, type Hello } from '../../src/transport/handshake.js';
import { parseAddress, startTcpTransport, type TcpTransport, type TcpTransportOptions } from '../../src/transport/tcp.js';
import { MASTER, type PeerId } from '../../src/transport/transport.js';
import { Inbox, LogSink, eventually, sendUntilDelivered, seqMsg, seqOf, withTimeout } from './suite.js';

const CLUSTER = 'test';
const R0 = replicaAddr(0, 0);
const R1 = replicaAddr(0, 1);
const wire = new Codec<Message>(withHandshake(WIRE_MESSAGES));

/** A hand-driven socket speaking (or not) the protocol, to test the server side of it. */
class RawPeer {
  readonly frames: Message[] = [];
  readonly closed: Promise<void>;
  private readonly decoder = wire.decoder();

  constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => this.decoder.push(chunk, (msg) => this.frames.push(msg)));
    socket.on('error', () => undefined);
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
  }

  static async connect(port: number): Promise<RawPeer> {
    const socket = net.connect({ host: '127.0.0.1', port });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    return new RawPeer(socket);
  }

  hello(overrides: Partial<Hello> = {}): void {
    this.socket.write(wire.encode({ ...helloFor(clientAddr('raw'), CLUSTER), ...overrides }));
  }

  async waitForFrames(n: number): Promise<void> {
    await eventually(() => this.frames.length >= n, `${n} frames from the server`);
  }
}

function refusalReason(frame: Message | undefined): string {
  assert.equal(frame?.type, 'refuse');
  return (frame as Message & { reason?: string }).reason ?? '';
}

describe('tcp transport', () => {
  const open: { close(): Promise<void> }[] = [];
  after(async () => {
    await Promise.all(open.map((t) => t.close()));
  });

  async function start(
    self: PeerId,
    extra: Partial<TcpTransportOptions<typeof WIRE_MESSAGES>> = {},
  ): Promise<{ t: TcpTransport<typeof WIRE_MESSAGES>; inbox: Inbox; logs: LogSink }> {
    const inbox = new Inbox();
    const logs = new LogSink();
    const t = await startTcpTransport({
      self,
      cluster: CLUSTER,
      table: WIRE_MESSAGES,
      onMessage: inbox.handler,
      log: logs.log,
      listen: { port: 0 },
      reconnectDelayMaxMs: 50,
      ...extra,
    });
    open.push(t);
    return { t, inbox, logs };
  }

  describe('handshake', () => {
    it('answers a hello with its own and tags what follows with the hello identity', async () => {
      const server = await start(R0);
      const raw = await RawPeer.connect(server.t.port);
      raw.hello();
      raw.socket.write(wire.encode(seqMsg(7)));
      await raw.waitForFrames(1);
      assert.deepEqual(raw.frames[0], helloFor(R0, CLUSTER));
      await server.inbox.waitFor(1);
      assert.deepEqual(server.inbox.got[0]!.from, clientAddr('raw'));
      server.t.send(clientAddr('raw'), seqMsg(8));
      await raw.waitForFrames(2);
      assert.deepEqual(raw.frames[1], seqMsg(8));
      raw.socket.destroy();
      await server.t.close();
    });

    const refusals: [string, Partial<Hello>, RegExp][] = [
      ['another cluster', { cluster: 'other' }, /cluster "other" is not this cluster "test"/],
      ['an unsupported version', { version: WIRE_VERSION + 1 }, /unsupported version/],
      ['a bad magic', { magic: 'nope' }, /bad magic/],
      ['a replica identity with a client id', { role: 'replica', shard: 0, replica: 1, client: 'x' }, /bad replica identity/],
      ['a client without an id', { client: '' }, /bad client identity/],
    ];
    for (const [what, overrides, reason] of refusals) {
      it(`refuses a peer with ${what}, says why, logs it and closes`, async () => {
        const server = await start(R0);
        const raw = await RawPeer.connect(server.t.port);
        raw.hello(overrides);
        await raw.closed;
        assert.equal(raw.frames.length, 1);
        assert.match(refusalReason(raw.frames[0]), reason);
        await server.logs.waitFor(reason);
        assert.equal(server.t.stats().connectionsRejected, 1);
        await server.t.close();
      });
    }

    it('refuses a message sent before the hello', async () => {
      const server = await start(R0);
      const raw = await RawPeer.connect(server.t.port);
      raw.socket.write(wire.encode(seqMsg(1)));
      await raw.closed;
      assert.match(refusalReason(raw.frames[0]), /fetch before the handshake/);
      assert.equal(server.inbox.got.length, 0);
      await server.t.close();
    });

    it('closes a connection that does not complete the handshake in time', async () => {
      const server = await start(R0, { handshakeTimeoutMs: 50 });
      const raw = await RawPeer.connect(server.t.port);
      await withTimeout(raw.closed, 5000, 'the silent connection to be closed');
      await server.logs.waitFor(/handshake timed out/);
      await server.t.close();
    });

    it('does not talk to a different peer than the one it dialled', async () => {
      const a = await start(R0);
      const b = await start(R1);
      a.t.setPeer(replicaAddr(0, 2), `127.0.0.1:${b.t.port}`);
      a.t.send(replicaAddr(0, 2), seqMsg(1));
      await a.logs.waitFor(/expected r0\.2 but r0\.1 answered/);
      assert.equal(b.inbox.got.length, 0);
      await Promise.all([a.t.close(), b.t.close()]);
    });
  });

  describe('malformed frames', () => {
    const garbage: [string, Buffer][] = [
      ['undecodable bytes', Buffer.from([0, 0, 0, 3, WIRE_VERSION, 0xc1, 0xc1])],
      ['an oversize length prefix', Buffer.from([0xff, 0xff, 0xff, 0xff])],
      ['a wrong version', Buffer.from([0, 0, 0, 2, WIRE_VERSION + 1, 0x90])],
    ];
    for (const [what, bytes] of garbage) {
      it(`${what} close only that connection, with a logged reason`, async () => {
        const server = await start(R0);
        const peer = await start(R1);
        peer.t.setPeer(R0, `127.0.0.1:${server.t.port}`);
        peer.t.send(R0, seqMsg(1));
        await server.inbox.waitFor(1);
        const raw = await RawPeer.connect(server.t.port);
        raw.hello();
        await raw.waitForFrames(1);
        raw.socket.write(bytes);
        await raw.closed;
        await server.logs.waitFor(/malformed frame/);
        peer.t.send(R0, seqMsg(2));
        await server.inbox.waitFor(2);
        assert.deepEqual(server.inbox.got.map(seqOf), [1, 2]);
        await Promise.all([server.t.close(), peer.t.close()]);
      });
    }

    it('logs a frame cut short by the end of the stream', async () => {
      const server = await start(R0);
      const raw = await RawPeer.connect(server.t.port);
      raw.hello();
      await raw.waitForFrames(1);
      raw.socket.end(wire.encode(seqMsg(1)).subarray(0, 7));
      await server.logs.waitFor(/ended the stream: stream ended inside a frame/);
      await server.t.close();
    });
  });

  it('reconnects after the server restarts on the same port', async () => {
    const server = await start(R1);
    const { port } = server.t;
    const a = await start(R0);
    a.t.setPeer(R1, `127.0.0.1:${port}`);
    a.t.send(R1, seqMsg(1));
    await server.inbox.waitFor(1);
    await server.t.close();
    const restarted = await start(R1, { listen: { port } });
    await sendUntilDelivered(a.t, R1, restarted.inbox);
    await a.logs.waitFor(/reconnected to r0\.1/);
    await Promise.all([a.t.close(), restarted.t.close()]);
  });

  it('follows a peer to its new address', async () => {
    const a = await start(R0);
    const old = await start(R1);
    a.t.setPeer(R1, `127.0.0.1:${old.t.port}`);
    a.t.send(R1, seqMsg(1));
    await old.inbox.waitFor(1);
    await old.t.close();
    const moved = await start(R1);
    a.t.setPeer(R1, `127.0.0.1:${moved.t.port}`);
    a.t.send(R1, seqMsg(2));
    await moved.inbox.waitFor(1);
    assert.equal(seqOf(moved.inbox.got[0]!), 2);
    await Promise.all([a.t.close(), moved.t.close()]);
  });

  it('sends everything queued in one event-loop turn in one socket write', async () => {
    const a = await start(R0);
    const b = await start(R1);
    a.t.setPeer(R1, `127.0.0.1:${b.t.port}`);
    a.t.send(R1, seqMsg(0));
    await b.inbox.waitFor(1);
    const writesBefore = a.t.stats().writes;
    for (let i = 1; i <= 500; i++) a.t.send(R1, seqMsg(i));
    await b.inbox.waitFor(501);
    assert.equal(a.t.stats().writes - writesBefore, 1);
    assert.equal(a.t.stats().framesSent, 501);
    await Promise.all([a.t.close(), b.t.close()]);
  });

  it('delivers one message object sent to several peers (encoded once) to each', async () => {
    const a = await start(R0);
    const b = await start(R1);
    const c = await start(replicaAddr(0, 2));
    a.t.setPeer(R1, `127.0.0.1:${b.t.port}`);
    a.t.setPeer(replicaAddr(0, 2), `127.0.0.1:${c.t.port}`);
    const msg: WireMessage = { type: 'heartbeat', ballot: 1, committedUpTo: 2 };
    a.t.send(R1, msg);
    a.t.send(replicaAddr(0, 2), msg);
    await Promise.all([b.inbox.waitFor(1), c.inbox.waitFor(1)]);
    assert.deepEqual(b.inbox.got[0]!.msg, msg);
    assert.deepEqual(c.inbox.got[0]!.msg, msg);
    await Promise.all([a.t.close(), b.t.close(), c.t.close()]);
  });

  it('keeps no timers armed while idle', async () => {
    const timers = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const before = timers();
    const a = await start(R0);
    const b = await start(R1);
    a.t.setPeer(R1, `127.0.0.1:${b.t.port}`);
    b.t.setPeer(R0, `127.0.0.1:${a.t.port}`);
    a.t.send(R1, seqMsg(1));
    b.t.send(R0, seqMsg(2));
    await Promise.all([a.inbox.waitFor(1), b.inbox.waitFor(1)]);
    assert.equal(timers(), before);
    await Promise.all([a.t.close(), b.t.close()]);
  });

  it('close releases the port and stops dialling', async () => {
    const a = await start(R0);
    const b = await start(R1);
    a.t.setPeer(R1, `127.0.0.1:${b.t.port}`);
    a.t.send(R1, seqMsg(1));
    await b.inbox.waitFor(1);
    const { port } = a.t;
    await Promise.all([a.t.close(), b.t.close()]);
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port }, resolve));
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('rejects a port that is taken with a clear error', async () => {
    const a = await start(R0);
    await assert.rejects(start(R1, { listen: { port: a.t.port } }), /cannot listen on 127\.0\.0\.1:\d+: .*EADDRINUSE/);
    await a.t.close();
  });

  it('parses host:port addresses, including IPv6', () => {
    assert.deepEqual(parseAddress('127.0.0.1:7000'), { host: '127.0.0.1', port: 7000 });
    assert.deepEqual(parseAddress('[::1]:7000'), { host: '::1', port: 7000 });
    assert.throws(() => parseAddress('localhost'), /expected host:port/);
    assert.throws(() => parseAddress('h:70000'), /expected host:port/);
  });
});

describe('client connection', () => {
  async function server(self: PeerId = MASTER): Promise<{ t: TcpTransport<typeof WIRE_MESSAGES>; inbox: Inbox }> {
    const inbox = new Inbox();
    const t: TcpTransport<typeof WIRE_MESSAGES> = await startTcpTransport({
      self,
      cluster: CLUSTER,
      table: WIRE_MESSAGES,
      onMessage: (from, msg) => {
        inbox.handler(from, msg);
        if (msg.type === 'digestRequest') t.send(from, seqMsg(42));
      },
      log: () => undefined,
      listen: { port: 0 },
    });
    return { t, inbox };
  }

  function clientOf(port: number, received: Message[], closes: string[] = [], cluster = CLUSTER): ClientConnection<typeof WIRE_MESSAGES> {
    return new ClientConnection({
      client: 'carol',
      cluster,
      table: WIRE_MESSAGES,
      server: MASTER,
      address: `127.0.0.1:${port}`,
      onMessage: (msg) => received.push(msg),
      onClose: (reason) => closes.push(reason),
      log: () => undefined,
    });
  }

  it('connects on the first send and receives the answer', async () => {
    const s = await server();
    const received: Message[] = [];
    const client = clientOf(s.t.port, received);
    assert.equal(client.connected, false);
    assert.ok(client.send({ type: 'digestRequest' }));
    await eventually(() => received.length === 1, 'the answer');
    assert.deepEqual(received[0], seqMsg(42));
    assert.deepEqual(s.inbox.got[0]!.from, clientAddr('carol'));
    assert.equal(client.connected, true);
    await client.close();
    await s.t.close();
  });

  it('reports a closed connection and dials again on the next send', async () => {
    const s = await server();
    const { port } = s.t;
    const received: Message[] = [];
    const closes: string[] = [];
    const client = clientOf(port, received, closes);
    await client.connect();
    await s.t.close();
    await eventually(() => closes.length === 1, 'onClose');
    assert.equal(client.connected, false);
    const restarted = await startTcpTransport({
      self: MASTER,
      cluster: CLUSTER,
      table: WIRE_MESSAGES,
      onMessage: (from) => restarted.send(from, seqMsg(43)),
      log: () => undefined,
      listen: { port },
    });
    client.send({ type: 'digestRequest' });
    await eventually(() => received.length === 1, 'the answer after reconnecting');
    assert.deepEqual(received[0], seqMsg(43));
    await client.close();
    await restarted.close();
  });

  it('rejects connect() when the server refuses it', async () => {
    const s = await server();
    const client = clientOf(s.t.port, [], [], 'elsewhere');
    await assert.rejects(client.connect(), /cannot connect to master at .*cluster "elsewhere" is not this cluster "test"/);
    await client.close();
    await s.t.close();
  });

  it('rejects connect() when nothing listens', async () => {
    const s = await server();
    const { port } = s.t;
    await s.t.close();
    const closes: string[] = [];
    const client = clientOf(port, [], closes);
    await assert.rejects(client.connect(), /ECONNREFUSED/);
    assert.equal(closes.length, 1);
    await client.close();
  });
});
