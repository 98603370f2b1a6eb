/**
 * The in-memory twin of the TCP transport, for tests: the same `Transport` interface, routing
 * rule, handshake checks (cluster, expected identity), bounded queues while a peer is down,
 * block/unblock and link delays. Messages go through the real codec (so a message that could
 * not cross the wire does not cross here either) and are delivered asynchronously, in order
 * per link. Addresses are names (`mem:1`) registered in a `MemoryNetwork`; a transport that
 * listens again at the same name after a restart is reached again, like a restarted server.
 */
import { assert } from '../protocol/common/assert.js';
import type { MessageTable, MessagesOf } from '../protocol/common/schema.js';
import { Codec, FRAME_BYTES_MAX_DEFAULT } from './codec.js';
import {
  DelayLine,
  QUEUE_FRAMES_MAX_DEFAULT,
  emptyStats,
  peerKey,
  samePeer,
  stderrLogger,
  type LinkDelay,
  type Logger,
  type MessageHandler,
  type PeerId,
  type Transport,
  type TransportLimits,
  type TransportStats,
} from './transport.js';

export interface MemoryTransportOptions<T extends MessageTable> extends TransportLimits {
  readonly self: PeerId;
  readonly cluster: string;
  readonly table: T;
  readonly onMessage: MessageHandler<MessagesOf<T>>;
  /** Listen at this name, or at a fresh one when empty. Omit to only dial. */
  readonly listen?: { readonly address: string };
}

/** What one transport sees of another through the network. */
interface Endpoint {
  readonly self: PeerId;
  readonly cluster: string;
  /** `from` dialled this endpoint: record it as reachable, or refuse (false). */
  accept(from: Endpoint): boolean;
  /** `from` closed its connection to this endpoint. */
  disconnect(from: Endpoint): void;
  /** A frame from `from`, delivered in order. */
  receive(from: Endpoint, frame: Buffer): void;
  /** An endpoint started listening at `address`: connect links waiting for it. */
  listenerAppeared(address: string): void;
}

/** The registry of listening addresses shared by the memory transports of one test. */
export class MemoryNetwork {
  private readonly listeners = new Map<string, Endpoint>();
  private readonly members = new Set<Endpoint>();
  private nextAddress = 1;

  create<T extends MessageTable>(opts: MemoryTransportOptions<T>): MemoryTransport<T> {
    return new MemoryTransport(this, opts);
  }

  /** @internal */
  join(endpoint: Endpoint, address: string | null): string | null {
    this.members.add(endpoint);
    if (address === null) return null;
    const name = address === '' ? `mem:${this.nextAddress++}` : address;
    assert(!this.listeners.has(name), `address ${name} is in use`);
    this.listeners.set(name, endpoint);
    for (const member of this.members) if (member !== endpoint) member.listenerAppeared(name);
    return name;
  }

  /** @internal */
  leave(endpoint: Endpoint, address: string | null): void {
    this.members.delete(endpoint);
    if (address !== null && this.listeners.get(address) === endpoint) this.listeners.delete(address);
  }

  /** @internal */
  listenerAt(address: string): Endpoint | undefined {
    return this.listeners.get(address);
  }
}

interface Link {
  readonly peer: PeerId;
  address: string;
  /** The endpoint this link is connected to, or null while there is none (or it refused). */
  target: Endpoint | null;
  queue: Buffer[];
}

interface Delayed {
  readonly key: string;
  readonly frame: Buffer;
}

export class MemoryTransport<T extends MessageTable> implements Transport<MessagesOf<T>>, Endpoint {
  readonly self: PeerId;
  readonly cluster: string;
  readonly address: string | null;
  private readonly codec: Codec<MessagesOf<T>>;
  private readonly onMessage: MessageHandler<MessagesOf<T>>;
  private readonly log: Logger;
  private readonly linkDelayMs: LinkDelay | null;
  private readonly queueFramesMax: number;
  private readonly counters: TransportStats = emptyStats();
  private readonly links = new Map<string, Link>();
  /** Endpoints that dialled this one, by peer key: how this side reaches peers without an address. */
  private readonly incoming = new Map<string, Endpoint>();
  private readonly delayLines = new Map<string, DelayLine<Delayed>>();
  private readonly blocked = new Set<string>();
  /** Frames on their way, in send order; one scheduled delivery carries all of them. */
  private inFlight: { readonly to: Endpoint; readonly frame: Buffer }[] = [];
  private deliveryScheduled = false;
  private closed = false;

  constructor(
    private readonly network: MemoryNetwork,
    opts: MemoryTransportOptions<T>,
  ) {
    this.self = opts.self;
    this.cluster = opts.cluster;
    this.onMessage = opts.onMessage;
    this.log = opts.log ?? stderrLogger(`[transport ${peerKey(opts.self)}]`);
    this.linkDelayMs = opts.linkDelayMs ?? null;
    this.queueFramesMax = opts.queueFramesMax ?? QUEUE_FRAMES_MAX_DEFAULT;
    this.codec = Codec.of(opts.table, opts.frameBytesMax ?? FRAME_BYTES_MAX_DEFAULT);
    this.address = network.join(this, opts.listen?.address ?? null);
  }

  setPeer(peer: PeerId, address: string): void {
    assert(!this.closed, 'setPeer after close');
    const key = peerKey(peer);
    let link = this.links.get(key);
    if (link === undefined) {
      link = { peer, address, target: null, queue: [] };
      this.links.set(key, link);
    } else if (link.address !== address) {
      link.target?.disconnect(this);
      link.target = null;
      link.address = address;
    }
    this.connect(link);
  }

  removePeer(peer: PeerId): void {
    const key = peerKey(peer);
    this.links.get(key)?.target?.disconnect(this);
    this.links.delete(key);
  }

  send(to: PeerId, msg: MessagesOf<T>): void {
    if (this.closed) {
      this.counters.droppedNoRoute++;
      return;
    }
    const key = peerKey(to);
    if (this.blocked.has(key)) {
      this.counters.droppedBlocked++;
      return;
    }
    const frame = this.codec.encode(msg);
    const delayMs = this.linkDelayMs?.(to) ?? 0;
    const line = this.delayLines.get(key);
    if (delayMs > 0 || (line !== undefined && line.length > 0)) this.delayLine(key).push({ key, frame }, delayMs);
    else this.route(key, frame);
  }

  block(peer: PeerId): void {
    const key = peerKey(peer);
    this.blocked.add(key);
    const link = this.links.get(key);
    if (link !== undefined) {
      this.counters.droppedBlocked += link.queue.length;
      link.queue = [];
    }
  }

  unblock(peer: PeerId): void {
    this.blocked.delete(peerKey(peer));
  }

  stats(): TransportStats {
    return { ...this.counters };
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    for (const line of this.delayLines.values()) line.clear();
    for (const link of this.links.values()) link.target?.disconnect(this);
    this.links.clear();
    for (const endpoint of this.incoming.values()) endpoint.disconnect(this);
    this.incoming.clear();
    this.inFlight = [];
    this.network.leave(this, this.address);
    return Promise.resolve();
  }

  accept(from: Endpoint): boolean {
    if (this.closed) return false;
    if (from.cluster !== this.cluster) {
      this.log(`refusing ${peerKey(from.self)}: cluster ${JSON.stringify(from.cluster)} is not this cluster ${JSON.stringify(this.cluster)}`);
      this.counters.connectionsRejected++;
      return false;
    }
    this.incoming.set(peerKey(from.self), from);
    return true;
  }

  disconnect(from: Endpoint): void {
    const key = peerKey(from.self);
    if (this.incoming.get(key) === from) this.incoming.delete(key);
    const link = this.links.get(key);
    if (link !== undefined && link.target === from) link.target = null;
  }

  receive(from: Endpoint, frame: Buffer): void {
    if (this.closed) return;
    const decoded = this.codec.decode(frame);
    if (!decoded.ok) {
      this.log(`dropping a frame from ${peerKey(from.self)}: ${decoded.error.message}`);
      this.counters.connectionsRejected++;
      return;
    }
    if (this.blocked.has(peerKey(from.self))) {
      this.counters.droppedBlocked++;
      return;
    }
    this.counters.framesReceived++;
    this.counters.bytesReceived += frame.length;
    this.onMessage(from.self, decoded.msg);
  }

  listenerAppeared(address: string): void {
    for (const link of this.links.values()) if (link.address === address && link.target === null) this.connect(link);
  }

  private connect(link: Link): void {
    const target = this.network.listenerAt(link.address);
    if (target === undefined || link.target === target) return;
    if (!samePeer(target.self, link.peer)) {
      this.log(`expected ${peerKey(link.peer)} at ${link.address} but ${peerKey(target.self)} answered`);
      this.counters.connectionsRejected++;
      return;
    }
    if (!target.accept(this)) {
      this.log(`${peerKey(link.peer)} at ${link.address} refused the connection`);
      this.counters.connectionsRejected++;
      return;
    }
    link.target = target;
    const queued = link.queue;
    link.queue = [];
    for (const frame of queued) this.transmit(target, frame);
  }

  private route(key: string, frame: Buffer): void {
    if (this.blocked.has(key)) {
      this.counters.droppedBlocked++;
      return;
    }
    const link = this.links.get(key);
    if (link !== undefined) {
      if (link.target !== null) this.transmit(link.target, frame);
      else if (link.queue.length >= this.queueFramesMax) this.counters.droppedOverflow++;
      else link.queue.push(frame);
      return;
    }
    const endpoint = this.incoming.get(key);
    if (endpoint !== undefined) this.transmit(endpoint, frame);
    else this.counters.droppedNoRoute++;
  }

  private transmit(to: Endpoint, frame: Buffer): void {
    this.counters.framesSent++;
    this.counters.bytesSent += frame.length;
    this.inFlight.push({ to, frame });
    if (this.deliveryScheduled) return;
    this.deliveryScheduled = true;
    this.counters.writes++;
    setImmediate(() => {
      this.deliveryScheduled = false;
      const batch = this.inFlight;
      this.inFlight = [];
      for (const { to: target, frame: f } of batch) target.receive(this, f);
    });
  }

  private delayLine(key: string): DelayLine<Delayed> {
    let line = this.delayLines.get(key);
    if (line === undefined) {
      line = new DelayLine((item) => this.route(item.key, item.frame));
      this.delayLines.set(key, line);
    }
    return line;
  }
}
