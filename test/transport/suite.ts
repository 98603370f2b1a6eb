/**
 * The one transport test suite (ARCHITECTURE.md): every implementation of `Transport` must
 * pass it. `transport.test.ts` runs it against the TCP transport and the in-memory twin.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { clientAddr, replicaAddr } from '../../src/protocol/common/core.js';
import { SeededRng } from '../../src/protocol/common/rng.js';
import type { WireMessage } from '../../src/protocol/wire.js';
import { peerKey, type LinkDelay, type PeerId, type Transport } from '../../src/transport/transport.js';

export interface Received {
  readonly from: PeerId;
  readonly msg: WireMessage;
  readonly atMs: number;
}

/** Collects delivered messages; `waitFor(n)` resolves once n have arrived. */
export class Inbox {
  readonly got: Received[] = [];
  private waiters: { n: number; resolve: () => void }[] = [];

  readonly handler = (from: PeerId, msg: WireMessage): void => {
    this.got.push({ from, msg, atMs: performance.now() });
    this.waiters = this.waiters.filter((w) => {
      if (this.got.length < w.n) return true;
      w.resolve();
      return false;
    });
  };

  waitFor(n: number, timeoutMs = 5000): Promise<void> {
    if (this.got.length >= n) return Promise.resolve();
    return withTimeout(new Promise((resolve) => this.waiters.push({ n, resolve })), timeoutMs, `${n} messages (got ${this.got.length})`);
  }
}

/** Collects log lines; `waitFor(pattern)` resolves once a matching line was logged. */
export class LogSink {
  readonly lines: string[] = [];
  private waiters: { pattern: RegExp; resolve: () => void }[] = [];

  readonly log = (line: string): void => {
    this.lines.push(line);
    this.waiters = this.waiters.filter((w) => {
      if (!w.pattern.test(line)) return true;
      w.resolve();
      return false;
    });
  };

  waitFor(pattern: RegExp, timeoutMs = 5000): Promise<void> {
    if (this.lines.some((l) => pattern.test(l))) return Promise.resolve();
    return withTimeout(new Promise((resolve) => this.waiters.push({ pattern, resolve })), timeoutMs, `a log line matching ${pattern}`);
  }
}

export function withTimeout<V>(promise: Promise<V>, timeoutMs: number, what: string): Promise<V> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), timeoutMs);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Polls `condition` every few milliseconds (for counters, which have no event). */
export async function eventually(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const start = performance.now();
  while (!condition()) {
    if (performance.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

export function seqMsg(i: number): WireMessage {
  return { type: 'fetch', fromSlot: i, toSlot: i + 1 };
}

export function seqOf(r: Received): number {
  assert.equal(r.msg.type, 'fetch');
  return r.msg.type === 'fetch' ? r.msg.fromSlot : -1;
}

/**
 * Sends until one message arrives: a message written just before the transport notices that
 * the old connection died is lost, as on any network, and a later one must get through.
 */
export async function sendUntilDelivered(t: Transport<WireMessage>, to: PeerId, inbox: Inbox): Promise<void> {
  const before = inbox.got.length;
  for (let attempt = 0; attempt < 50; attempt++) {
    t.send(to, seqMsg(1000 + attempt));
    try {
      await inbox.waitFor(before + 1, 100);
      return;
    } catch {
      continue;
    }
  }
  assert.fail(`nothing reached ${peerKey(to)}`);
}

export interface CreateOptions {
  readonly self: PeerId;
  readonly onMessage: (from: PeerId, msg: WireMessage) => void;
  /** Listen at a fresh address (true), at a given earlier address (a string), or not at all. */
  readonly listen: boolean | string;
  readonly cluster?: string;
  readonly linkDelayMs?: LinkDelay;
  readonly queueFramesMax?: number;
  readonly log?: (line: string) => void;
}

export interface TransportFactory {
  readonly name: string;
  create(opts: CreateOptions): Promise<Transport<WireMessage>>;
}

const R0 = replicaAddr(0, 0);
const R1 = replicaAddr(0, 1);
const ALICE = clientAddr('alice');

export function transportSuite(factory: TransportFactory): void {
  describe(`transport suite (${factory.name})`, () => {
    const open: Transport<WireMessage>[] = [];
    after(async () => {
      await Promise.all(open.map((t) => t.close()));
    });

    async function start(opts: Partial<CreateOptions> & { self: PeerId }): Promise<{ t: Transport<WireMessage>; inbox: Inbox; logs: LogSink }> {
      const inbox = new Inbox();
      const logs = new LogSink();
      const t = await factory.create({ listen: true, onMessage: inbox.handler, log: logs.log, ...opts });
      open.push(t);
      return { t, inbox, logs };
    }

    function addressOf(t: Transport<WireMessage>): string {
      assert.ok(t.address !== null);
      return t.address;
    }

    it('delivers a message tagged with the identity the sender gave in its handshake', async () => {
      const a = await start({ self: R0 });
      const b = await start({ self: R1 });
      a.t.setPeer(R1, addressOf(b.t));
      a.t.send(R1, seqMsg(1));
      await b.inbox.waitFor(1);
      assert.deepEqual(b.inbox.got[0]!.from, R0);
      assert.deepEqual(b.inbox.got[0]!.msg, seqMsg(1));
      await Promise.all([a.t.close(), b.t.close()]);
    });

    it('keeps send order on a link', async () => {
      const a = await start({ self: R0 });
      const b = await start({ self: R1 });
      a.t.setPeer(R1, addressOf(b.t));
      for (let i = 0; i < 2000; i++) a.t.send(R1, seqMsg(i));
      await b.inbox.waitFor(2000);
      assert.deepEqual(b.inbox.got.map(seqOf), Array.from({ length: 2000 }, (_, i) => i));
      await Promise.all([a.t.close(), b.t.close()]);
    });

    it('answers a client, which does not listen, on the connection it opened', async () => {
      const server = await start({ self: R0 });
      const client = await start({ self: ALICE, listen: false });
      assert.equal(client.t.address, null);
      client.t.setPeer(R0, addressOf(server.t));
      client.t.send(R0, seqMsg(1));
      await server.inbox.waitFor(1);
      assert.deepEqual(server.inbox.got[0]!.from, ALICE);
      server.t.send(ALICE, seqMsg(2));
      await client.inbox.waitFor(1);
      assert.deepEqual(client.inbox.got[0]!.from, R0);
      assert.equal(seqOf(client.inbox.got[0]!), 2);
      await Promise.all([server.t.close(), client.t.close()]);
    });

    it('connects two replicas whether one or both dial', async () => {
      const a = await start({ self: R0 });
      const b = await start({ self: R1 });
      a.t.setPeer(R1, addressOf(b.t));
      a.t.send(R1, seqMsg(1));
      await b.inbox.waitFor(1);
      b.t.send(R0, seqMsg(2)); // b has no address for a: it answers over a's connection
      await a.inbox.waitFor(1);
      b.t.setPeer(R0, addressOf(a.t)); // now both dial
      a.t.send(R1, seqMsg(3));
      b.t.send(R0, seqMsg(4));
      await Promise.all([a.inbox.waitFor(2), b.inbox.waitFor(2)]);
      assert.deepEqual(a.inbox.got.map(seqOf), [2, 4]);
      assert.deepEqual(b.inbox.got.map(seqOf), [1, 3]);
      await Promise.all([a.t.close(), b.t.close()]);
    });

    it('drops, and counts, a message for a peer it has no way to reach', async () => {
      const a = await start({ self: R0 });
      a.t.send(ALICE, seqMsg(1));
      assert.equal(a.t.stats().droppedNoRoute, 1);
      await a.t.close();
    });

    it('drops messages for a peer whose address was removed', async () => {
      const a = await start({ self: R0 });
      const b = await start({ self: R1 });
      a.t.setPeer(R1, addressOf(b.t));
      a.t.send(R1, seqMsg(1));
      await b.inbox.waitFor(1);
      a.t.removePeer(R1);
      a.t.send(R1, seqMsg(2));
      assert.equal(a.t.stats().droppedNoRoute, 1);
      await Promise.all([a.t.close(), b.t.close()]);
    });

    it('refuses a peer from another cluster', async () => {
      const a = await start({ self: R0, cluster: 'blue' });
      const b = await start({ self: R1, cluster: 'green' });
      a.t.setPeer(R1, addressOf(b.t));
      a.t.send(R1, seqMsg(1));
      await Promise.all([a.logs.waitFor(/refused|cluster/), b.logs.waitFor(/cluster "blue" is not this cluster "green"/)]);
      assert.equal(b.inbox.got.length, 0);
      await Promise.all([a.t.close(), b.t.close()]);
    });

    it('block drops traffic both ways until unblock', async () => {
      const a = await start({ self: R0 });
      const b = await start({ self: R1 });
      a.t.setPeer(R1, addressOf(b.t));
      b.t.setPeer(R0, addressOf(a.t));
      a.t.send(R1, seqMsg(0));
      await b.inbox.waitFor(1);
      a.t.block(R1);
      a.t.send(R1, seqMsg(1)); // dropped on the way out
      assert.equal(a.t.stats().droppedBlocked, 1);
      b.t.send(R0, seqMsg(2)); // dropped on the way in
      await eventually(() => a.t.stats().droppedBlocked === 2, 'the incoming message to be dropped');
      assert.equal(a.inbox.got.length, 0);
      a.t.unblock(R1);
      a.t.send(R1, seqMsg(3));
      b.t.send(R0, seqMsg(4));
      await Promise.all([a.inbox.waitFor(1), b.inbox.waitFor(2)]);
      assert.deepEqual(b.inbox.got.map(seqOf), [0, 3]);
      assert.deepEqual(a.inbox.got.map(seqOf), [4]);
      await Promise.all([a.t.close(), b.t.close()]);
    });

    it('delays messages by the injected link delay and keeps their order', async () => {
      const rng = new SeededRng(5);
      const delayMs = (peer: PeerId): number => (peerKey(peer) === peerKey(R1) ? 20 + rng.int(30) : 0);
      const sentAt: number[] = [];
      const a = await start({ self: R0, linkDelayMs: delayMs });
      const b = await start({ self: R1 });
      a.t.setPeer(R1, addressOf(b.t));
      for (let i = 0; i < 50; i++) {
        sentAt.push(performance.now());
        a.t.send(R1, seqMsg(i));
        if (i % 10 === 9) await new Promise((resolve) => setTimeout(resolve, 3));
      }
      await b.inbox.waitFor(50);
      assert.deepEqual(b.inbox.got.map(seqOf), Array.from({ length: 50 }, (_, i) => i));
      b.inbox.got.forEach((r, i) => assert.ok(r.atMs - sentAt[i]! >= 19, `message ${i} took ${r.atMs - sentAt[i]!} ms`));
      await Promise.all([a.t.close(), b.t.close()]);
    });

    it('queues for a peer that is down, delivers once it is back, and drops beyond the bound', async () => {
      const first = await start({ self: R1 });
      const address = addressOf(first.t);
      await first.t.close();
      const a = await start({ self: R0, queueFramesMax: 10 });
      a.t.setPeer(R1, address);
      for (let i = 0; i < 15; i++) a.t.send(R1, seqMsg(i));
      assert.equal(a.t.stats().droppedOverflow, 5);
      const again = await start({ self: R1, listen: address });
      await again.inbox.waitFor(10);
      assert.deepEqual(again.inbox.got.map(seqOf), Array.from({ length: 10 }, (_, i) => i));
      a.t.send(R1, seqMsg(99));
      await again.inbox.waitFor(11);
      await Promise.all([a.t.close(), again.t.close()]);
    });

    it('after close nothing is delivered, sends are dropped, and the address can be reused', async () => {
      const a = await start({ self: R0 });
      const b = await start({ self: R1 });
      a.t.setPeer(R1, addressOf(b.t));
      a.t.send(R1, seqMsg(1));
      await b.inbox.waitFor(1);
      const address = addressOf(b.t);
      await b.t.close();
      b.t.send(R0, seqMsg(2));
      assert.equal(b.t.stats().droppedNoRoute, 1);
      const c = await start({ self: R1, listen: address });
      await sendUntilDelivered(a.t, R1, c.inbox);
      assert.equal(b.inbox.got.length, 1);
      await Promise.all([a.t.close(), c.t.close()]);
    });
  });
}
