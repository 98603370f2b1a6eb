/**
 * The TCP transport: a listener for incoming connections, one outgoing connection per peer
 * with a known address (re-dialled with capped exponential backoff and jitter, with a bounded
 * queue while down), fault injection (block/unblock) and injected link delays. Routing is
 * described in transport.ts. An idle transport arms no timers except the reconnect timers of
 * peers that are down.
 */
import net from 'node:net';
import { assert } from '../protocol/common/assert.js';
import type { MessageTable, MessagesOf } from '../protocol/common/schema.js';
import { Codec, FRAME_BYTES_MAX_DEFAULT, type Message } from './codec.js';
import {
  Connection,
  HANDSHAKE_TIMEOUT_MS_DEFAULT,
  WRITE_BUFFER_BYTES_MAX_DEFAULT,
  type ConnectionOptions,
} from './connection.js';
import { withHandshake } from './handshake.js';
import {
  DelayLine,
  QUEUE_FRAMES_MAX_DEFAULT,
  emptyStats,
  peerKey,
  stderrLogger,
  type LinkDelay,
  type Logger,
  type MessageHandler,
  type PeerId,
  type Transport,
  type TransportLimits,
  type TransportStats,
} from './transport.js';

export const RECONNECT_DELAY_MIN_MS_DEFAULT = 20;
export const RECONNECT_DELAY_MAX_MS_DEFAULT = 1000;

export interface TcpTransportOptions<T extends MessageTable> extends TransportLimits {
  readonly self: PeerId;
  readonly cluster: string;
  readonly table: T;
  readonly onMessage: MessageHandler<MessagesOf<T>>;
  /** Accept connections on this host (default 127.0.0.1) and port (0: any free port). Omit to only dial. */
  readonly listen?: { readonly host?: string; readonly port: number };
  readonly handshakeTimeoutMs?: number;
  /** Backoff between attempts to reach a peer: doubles from min to max, then jittered to [½, 1]×. */
  readonly reconnectDelayMinMs?: number;
  readonly reconnectDelayMaxMs?: number;
  /** Per connection: bytes the socket may hold unsent before frames to that peer are dropped. */
  readonly writeBufferBytesMax?: number;
  /** Jitter source in [0, 1); injectable for tests. */
  readonly random?: () => number;
}

export function parseAddress(address: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(address);
  const port = match === null ? NaN : Number(match[3]);
  if (match === null || port < 1 || port > 65535) {
    throw new Error(`bad address ${JSON.stringify(address)}: expected host:port`);
  }
  return { host: match[1] ?? match[2]!, port };
}

export function formatAddress(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Starts a transport, listening first when `opts.listen` is given (rejects if the port is taken). */
export async function startTcpTransport<T extends MessageTable>(opts: TcpTransportOptions<T>): Promise<TcpTransport<T>> {
  const transport = new TcpTransport(opts);
  if (opts.listen !== undefined) {
    try {
      await transport.listen(opts.listen.host ?? '127.0.0.1', opts.listen.port);
    } catch (err) {
      await transport.close();
      throw err;
    }
  }
  return transport;
}

/** What an outgoing link needs from its transport. */
interface LinkHost<M> {
  readonly queueFramesMax: number;
  readonly reconnectDelayMinMs: number;
  readonly reconnectDelayMaxMs: number;
  readonly random: () => number;
  readonly counters: TransportStats;
  readonly log: Logger;
  dial(address: string, peer: PeerId, link: OutgoingLink<M>): Connection<M>;
}

/**
 * This side's connection to one peer: dialled at once, re-dialled after every failure, and
 * meanwhile holding up to `queueFramesMax` frames that go out first once it is open.
 */
class OutgoingLink<M> {
  private conn: Connection<M> | null = null;
  private queue: Buffer[] = [];
  private failures = 0;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private everOpen = false;

  constructor(
    private readonly host: LinkHost<M>,
    readonly peer: PeerId,
    public address: string,
  ) {
    this.dial();
  }

  send(frame: Buffer): void {
    if (this.conn !== null && this.conn.state === 'open') {
      this.conn.send(frame);
    } else if (this.queue.length >= this.host.queueFramesMax) {
      this.host.counters.droppedOverflow++;
    } else {
      this.queue.push(frame);
    }
  }

  /** Drops what waits for the connection (a partition began: it would not have arrived). */
  clearQueue(): number {
    const dropped = this.queue.length;
    this.queue = [];
    return dropped;
  }

  setAddress(address: string): void {
    if (address === this.address) return;
    this.address = address;
    this.failures = 0;
    this.conn?.close('peer address changed');
    this.dial();
  }

  stop(): Promise<void> {
    this.stopped = true;
    this.clearTimer();
    this.queue = [];
    const conn = this.conn;
    this.conn = null;
    if (conn === null) return Promise.resolve();
    conn.close('transport closed');
    return conn.done;
  }

  opened(conn: Connection<M>): void {
    if (conn !== this.conn) return;
    if (this.failures > 0 && this.everOpen) this.host.log(`reconnected to ${conn.name}`);
    this.failures = 0;
    this.everOpen = true;
    const queued = this.queue;
    this.queue = [];
    for (const frame of queued) conn.send(frame);
  }

  closed(conn: Connection<M>, reason: string): void {
    if (conn !== this.conn) return;
    this.conn = null;
    if (this.stopped) return;
    if (this.failures === 0) this.host.log(`no connection to ${conn.name}: ${reason}; retrying with backoff`);
    this.failures++;
    const ceilingMs = Math.min(
      this.host.reconnectDelayMaxMs,
      this.host.reconnectDelayMinMs * 2 ** Math.min(this.failures - 1, 30),
    );
    this.clearTimer();
    this.timer = setTimeout(() => {
      this.timer = null;
      this.dial();
    }, ceilingMs * (0.5 + this.host.random() / 2));
  }

  private dial(): void {
    this.clearTimer();
    this.conn = this.host.dial(this.address, this.peer, this);
  }

  private clearTimer(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }
}

interface Delayed {
  readonly key: string;
  readonly frame: Buffer;
}

export class TcpTransport<T extends MessageTable> implements Transport<MessagesOf<T>> {
  readonly self: PeerId;
  private boundAddress: string | null = null;
  private readonly counters: TransportStats = emptyStats();
  private readonly log: Logger;
  private readonly linkHost: LinkHost<MessagesOf<T>>;
  private readonly codec: Codec<MessagesOf<T>>;
  private readonly wire: Codec<Message>;
  private readonly connectionOptions: Omit<ConnectionOptions, 'expected'>;
  private readonly onMessage: MessageHandler<MessagesOf<T>>;
  private readonly linkDelayMs: LinkDelay | null;
  private readonly links = new Map<string, OutgoingLink<MessagesOf<T>>>();
  /** Every accepted connection, and per peer the newest open one (used to reach that peer). */
  private readonly accepted = new Set<Connection<MessagesOf<T>>>();
  private readonly incoming = new Map<string, Connection<MessagesOf<T>>>();
  private readonly delayLines = new Map<string, DelayLine<Delayed>>();
  private readonly blocked = new Set<string>();
  private server: net.Server | null = null;
  private closed = false;
  /** The last message encoded: a core sending one message to several peers encodes it once. */
  private lastEncoded: { readonly msg: MessagesOf<T>; readonly frame: Buffer } | null = null;

  constructor(opts: TcpTransportOptions<T>) {
    this.self = opts.self;
    this.onMessage = opts.onMessage;
    this.log = opts.log ?? stderrLogger(`[transport ${peerKey(opts.self)}]`);
    this.linkDelayMs = opts.linkDelayMs ?? null;
    this.linkHost = {
      queueFramesMax: opts.queueFramesMax ?? QUEUE_FRAMES_MAX_DEFAULT,
      reconnectDelayMinMs: opts.reconnectDelayMinMs ?? RECONNECT_DELAY_MIN_MS_DEFAULT,
      reconnectDelayMaxMs: opts.reconnectDelayMaxMs ?? RECONNECT_DELAY_MAX_MS_DEFAULT,
      random: opts.random ?? Math.random,
      counters: this.counters,
      log: this.log,
      dial: (address, peer, link) => this.dial(address, peer, link),
    };
    const { queueFramesMax, reconnectDelayMinMs, reconnectDelayMaxMs } = this.linkHost;
    assert(queueFramesMax >= 0, 'queueFramesMax must be >= 0');
    assert(
      reconnectDelayMinMs > 0 && reconnectDelayMinMs <= reconnectDelayMaxMs,
      'need 0 < reconnectDelayMinMs <= reconnectDelayMaxMs',
    );
    const frameBytesMax = opts.frameBytesMax ?? FRAME_BYTES_MAX_DEFAULT;
    this.codec = Codec.of(opts.table, frameBytesMax);
    this.wire = new Codec(withHandshake(opts.table), frameBytesMax);
    this.connectionOptions = {
      self: opts.self,
      cluster: opts.cluster,
      handshakeTimeoutMs: opts.handshakeTimeoutMs ?? HANDSHAKE_TIMEOUT_MS_DEFAULT,
      writeBufferBytesMax: opts.writeBufferBytesMax ?? WRITE_BUFFER_BYTES_MAX_DEFAULT,
      log: this.log,
      stats: this.counters,
    };
  }

  /** Binds the listener; resolves with the bound address (the port is known even for port 0). */
  listen(host: string, port: number): Promise<string> {
    assert(this.server === null && !this.closed, 'listen once, before close');
    const server = net.createServer((socket) => this.accept(socket));
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', (err) => reject(new Error(`cannot listen on ${formatAddress(host, port)}: ${err.message}`)));
      server.listen({ host, port }, () => {
        const bound = server.address() as net.AddressInfo;
        this.boundAddress = formatAddress(host, bound.port);
        resolve(this.boundAddress);
      });
    });
  }

  get address(): string | null {
    return this.boundAddress;
  }

  /** The bound port (0 when not listening). */
  get port(): number {
    const bound = this.server?.address();
    return typeof bound === 'object' && bound !== null ? bound.port : 0;
  }

  setPeer(peer: PeerId, address: string): void {
    assert(!this.closed, 'setPeer after close');
    parseAddress(address);
    const key = peerKey(peer);
    const link = this.links.get(key);
    if (link === undefined) this.links.set(key, new OutgoingLink(this.linkHost, peer, address));
    else link.setAddress(address);
  }

  removePeer(peer: PeerId): void {
    const key = peerKey(peer);
    void this.links.get(key)?.stop();
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
    if (this.lastEncoded?.msg !== msg) this.lastEncoded = { msg, frame: this.codec.encode(msg) };
    const { frame } = this.lastEncoded;
    const delayMs = this.linkDelayMs?.(to) ?? 0;
    const line = this.delayLines.get(key);
    if (delayMs > 0 || (line !== undefined && line.length > 0)) this.delayLine(key).push({ key, frame }, delayMs);
    else this.route(key, frame);
  }

  block(peer: PeerId): void {
    const key = peerKey(peer);
    this.blocked.add(key);
    this.counters.droppedBlocked += this.links.get(key)?.clearQueue() ?? 0;
  }

  unblock(peer: PeerId): void {
    this.blocked.delete(peerKey(peer));
  }

  stats(): TransportStats {
    return { ...this.counters };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const line of this.delayLines.values()) line.clear();
    const done: Promise<void>[] = [...this.links.values()].map((link) => link.stop());
    this.links.clear();
    for (const conn of this.accepted) {
      conn.close('transport closed');
      done.push(conn.done);
    }
    const server = this.server;
    if (server !== null) done.push(new Promise((resolve) => server.close(() => resolve())));
    await Promise.all(done);
  }

  private dial(address: string, peer: PeerId, link: OutgoingLink<MessagesOf<T>>): Connection<MessagesOf<T>> {
    const { host, port } = parseAddress(address);
    const socket = net.connect({ host, port });
    return new Connection(
      socket,
      this.wire,
      { ...this.connectionOptions, expected: peer },
      {
        opened: (conn) => link.opened(conn),
        message: (conn, msg) => this.deliver(conn, msg),
        closed: (conn, reason) => link.closed(conn, reason),
      },
    );
  }

  private accept(socket: net.Socket): void {
    if (this.closed) {
      socket.destroy();
      return;
    }
    const conn: Connection<MessagesOf<T>> = new Connection(
      socket,
      this.wire,
      { ...this.connectionOptions, expected: null },
      {
        opened: (c) => {
          const key = peerKey(c.peer!);
          const older = this.incoming.get(key);
          this.incoming.set(key, c);
          older?.close(`replaced by a newer connection from ${key}`);
        },
        message: (c, msg) => this.deliver(c, msg),
        closed: (c) => {
          this.accepted.delete(c);
          if (c.peer !== null && this.incoming.get(peerKey(c.peer)) === c) this.incoming.delete(peerKey(c.peer));
        },
      },
    );
    this.accepted.add(conn);
  }

  private deliver(conn: Connection<MessagesOf<T>>, msg: MessagesOf<T>): void {
    const from = conn.peer!;
    if (this.closed) return;
    if (this.blocked.has(peerKey(from))) {
      this.counters.droppedBlocked++;
      return;
    }
    this.onMessage(from, msg);
  }

  private route(key: string, frame: Buffer): void {
    if (this.blocked.has(key)) {
      this.counters.droppedBlocked++;
      return;
    }
    const link = this.links.get(key);
    if (link !== undefined) {
      link.send(frame);
      return;
    }
    const conn = this.incoming.get(key);
    if (conn !== undefined && conn.state === 'open') conn.send(frame);
    else this.counters.droppedNoRoute++;
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
