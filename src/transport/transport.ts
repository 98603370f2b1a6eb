/**
 * The one interface every transport implements (TCP in tcp.ts, the in-memory twin in
 * memory.ts), so the runtime and the tests do not care which one carries the bytes.
 *
 * Routing rule, the same everywhere: a peer given an address with `setPeer` is reached over
 * this side's own outgoing connection to it (dialled, re-dialled with backoff, and queued into
 * while down); any other peer (a client, which never listens; a replica that dialled us) is
 * reached over the newest connection it opened to us, and a message for a peer with neither is
 * dropped and counted. So two replicas work whether one or both of them dial, and replies to a
 * client go back on the connection its requests came in on.
 */
import { addrKey, type ClientAddr, type ReplicaAddr } from '../protocol/common/core.js';

/** The metadata master: there is one per cluster. */
export interface MasterAddr {
  readonly kind: 'master';
}

/** Who is at the other end of a connection, as it said in its handshake. */
export type PeerId = ReplicaAddr | ClientAddr | MasterAddr;

export const MASTER: MasterAddr = { kind: 'master' };

/** A stable string for maps and logs: `r0.1`, `c:alice`, `master`. */
export function peerKey(peer: PeerId): string {
  return peer.kind === 'master' ? 'master' : addrKey(peer);
}

export function samePeer(a: PeerId, b: PeerId): boolean {
  return peerKey(a) === peerKey(b);
}

/** Receives every message, tagged with the sender's handshake identity. */
export type MessageHandler<M> = (from: PeerId, msg: M) => void;

/** Takes one line without a newline. */
export type Logger = (line: string) => void;

/** A logger writing one prefixed line per call to stderr. */
export function stderrLogger(prefix: string): Logger {
  return (line) => {
    process.stderr.write(`${prefix} ${line}\n`);
  };
}

/** The one-way delay in milliseconds to add to messages sent to `peer` (0: none). */
export type LinkDelay = (peer: PeerId) => number;

/** Counters since the transport started. */
export interface TransportStats {
  /** Messages handed to the network (written to a socket, or delivered in memory). */
  framesSent: number;
  bytesSent: number;
  framesReceived: number;
  bytesReceived: number;
  /** Socket writes: many frames sent in one event-loop turn share one. */
  writes: number;
  /** Messages dropped: to or from a blocked peer. */
  droppedBlocked: number;
  /** Messages dropped: queue for a disconnected peer, or a connection's write buffer, full. */
  droppedOverflow: number;
  /** Messages dropped: no address and no connection for the peer, or the transport closed. */
  droppedNoRoute: number;
  /** Connections closed because of a handshake refusal or a malformed frame. */
  connectionsRejected: number;
}

export function emptyStats(): TransportStats {
  return {
    framesSent: 0,
    bytesSent: 0,
    framesReceived: 0,
    bytesReceived: 0,
    writes: 0,
    droppedBlocked: 0,
    droppedOverflow: 0,
    droppedNoRoute: 0,
    connectionsRejected: 0,
  };
}

export interface Transport<M> {
  readonly self: PeerId;
  /** Where peers reach this transport (`host:port` for TCP), or null when it does not listen. */
  readonly address: string | null;
  /** Reach `peer` over an outgoing connection to `address`; a new address replaces the old one. */
  setPeer(peer: PeerId, address: string): void;
  /** Forget the peer's address (its queued messages are dropped). */
  removePeer(peer: PeerId): void;
  /** Queues `msg` for `to`. Never throws for network reasons; `msg` must not be mutated later. */
  send(to: PeerId, msg: M): void;
  /** Fault injection: drop everything to and from `peer` on this transport, until unblocked. */
  block(peer: PeerId): void;
  unblock(peer: PeerId): void;
  stats(): TransportStats;
  /** Stops everything: connections, listener, timers. Nothing is delivered afterwards. */
  close(): Promise<void>;
}

/** Limits and knobs shared by both implementations; every one has a default. */
export interface TransportLimits {
  /** Largest frame accepted or sent (length prefix excluded). */
  frameBytesMax?: number;
  /** Messages kept per peer while its connection is down; more are dropped. */
  queueFramesMax?: number;
  linkDelayMs?: LinkDelay;
  log?: Logger;
}

export const QUEUE_FRAMES_MAX_DEFAULT = 4096;

/**
 * Per-link FIFO of delayed items with at most one timer armed: the timer fires for the head
 * item, releases everything due, and re-arms for the next. A smaller delay never overtakes a
 * larger one sent earlier, so per-link order is kept whatever the delay function returns.
 */
export class DelayLine<I> {
  private readonly items: { readonly dueMs: number; readonly item: I }[] = [];
  private head = 0;
  private timer: NodeJS.Timeout | null = null;
  private lastDueMs = 0;

  constructor(private readonly release: (item: I) => void) {}

  get length(): number {
    return this.items.length - this.head;
  }

  push(item: I, delayMs: number): void {
    this.lastDueMs = Math.max(performance.now() + delayMs, this.lastDueMs);
    this.items.push({ dueMs: this.lastDueMs, item });
    if (this.timer === null) this.arm();
  }

  /** Drops everything still waiting and disarms the timer. */
  clear(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.items.length = 0;
    this.head = 0;
  }

  private arm(): void {
    const first = this.items[this.head];
    if (first === undefined) return;
    this.timer = setTimeout(() => this.fire(), Math.max(0, Math.ceil(first.dueMs - performance.now())));
  }

  private fire(): void {
    this.timer = null;
    const now = performance.now();
    for (let next = this.items[this.head]; next !== undefined && next.dueMs <= now; next = this.items[this.head]) {
      this.head++;
      this.release(next.item);
    }
    if (this.head === this.items.length) {
      this.items.length = 0;
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items.splice(0, this.head);
      this.head = 0;
    }
    if (this.timer === null) this.arm();
  }
}
