/**
 * A client's connection to one server (a replica or the master), for request/response use.
 * Clients never listen: the server answers on this connection. It connects on demand (the
 * first send, or `connect()`), handshakes as the client, and never reconnects by itself: when
 * the connection ends, `onClose` says so, and the next send dials again. The client library
 * decides what an unanswered request means (its outcome is unknown) and when to retry.
 */
import net from 'node:net';
import { clientAddr } from '../protocol/common/core.js';
import type { MessageTable, MessagesOf } from '../protocol/common/schema.js';
import { Codec, FRAME_BYTES_MAX_DEFAULT, type Message } from './codec.js';
import { Connection, HANDSHAKE_TIMEOUT_MS_DEFAULT, WRITE_BUFFER_BYTES_MAX_DEFAULT } from './connection.js';
import { withHandshake } from './handshake.js';
import { parseAddress } from './tcp.js';
import {
  QUEUE_FRAMES_MAX_DEFAULT,
  emptyStats,
  peerKey,
  stderrLogger,
  type Logger,
  type PeerId,
  type TransportStats,
} from './transport.js';

export interface ClientConnectionOptions<T extends MessageTable> {
  readonly client: string;
  readonly cluster: string;
  readonly table: T;
  /** Who must answer at `address` (its handshake is checked against it). */
  readonly server: PeerId;
  readonly address: string;
  readonly onMessage: (msg: MessagesOf<T>) => void;
  /** A connection, or an attempt to open one, ended. Requests sent on it may or may not have run. */
  readonly onClose?: (reason: string) => void;
  readonly handshakeTimeoutMs?: number;
  /** Messages held while the connection is being opened; more are dropped. */
  readonly queueFramesMax?: number;
  readonly frameBytesMax?: number;
  readonly writeBufferBytesMax?: number;
  readonly log?: Logger;
}

export class ClientConnection<T extends MessageTable> {
  private readonly codec: Codec<MessagesOf<T>>;
  private readonly wire: Codec<Message>;
  private readonly counters: TransportStats = emptyStats();
  private readonly log: Logger;
  private conn: Connection<MessagesOf<T>> | null = null;
  private opening: { promise: Promise<void>; resolve: () => void; reject: (err: Error) => void } | null = null;
  private queue: Buffer[] = [];
  private closed = false;

  constructor(private readonly opts: ClientConnectionOptions<T>) {
    parseAddress(opts.address);
    const frameBytesMax = opts.frameBytesMax ?? FRAME_BYTES_MAX_DEFAULT;
    this.codec = Codec.of(opts.table, frameBytesMax);
    this.wire = new Codec(withHandshake(opts.table), frameBytesMax);
    this.log = opts.log ?? stderrLogger(`[client ${opts.client} → ${peerKey(opts.server)}]`);
  }

  get connected(): boolean {
    return this.conn !== null && this.conn.state === 'open';
  }

  stats(): TransportStats {
    return { ...this.counters };
  }

  /** Sends `msg`, connecting first if needed. False when it was dropped (closed, or queue full). */
  send(msg: MessagesOf<T>): boolean {
    if (this.closed) {
      this.counters.droppedNoRoute++;
      return false;
    }
    const frame = this.codec.encode(msg);
    if (this.conn !== null && this.conn.state === 'open') return this.conn.send(frame);
    if (this.queue.length >= (this.opts.queueFramesMax ?? QUEUE_FRAMES_MAX_DEFAULT)) {
      this.counters.droppedOverflow++;
      return false;
    }
    this.queue.push(frame);
    // A failed attempt is reported through onClose; the promise is only for callers of connect().
    this.connect().catch(() => undefined);
    return true;
  }

  /** Resolves once connected and handshaken; rejects with the reason an attempt failed. */
  connect(): Promise<void> {
    if (this.closed) return Promise.reject(new Error('connection closed'));
    if (this.conn !== null && this.conn.state === 'open') return Promise.resolve();
    if (this.opening !== null) return this.opening.promise;
    let resolve!: () => void;
    let reject!: (err: Error) => void;
    const promise = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    this.opening = { promise, resolve, reject };
    const { host, port } = parseAddress(this.opts.address);
    this.conn = new Connection<MessagesOf<T>>(
      net.connect({ host, port }),
      this.wire,
      {
        self: clientAddr(this.opts.client),
        cluster: this.opts.cluster,
        expected: this.opts.server,
        handshakeTimeoutMs: this.opts.handshakeTimeoutMs ?? HANDSHAKE_TIMEOUT_MS_DEFAULT,
        writeBufferBytesMax: this.opts.writeBufferBytesMax ?? WRITE_BUFFER_BYTES_MAX_DEFAULT,
        log: this.log,
        stats: this.counters,
      },
      {
        opened: (conn) => {
          const queued = this.queue;
          this.queue = [];
          for (const frame of queued) conn.send(frame);
          this.opening?.resolve();
          this.opening = null;
        },
        message: (_conn, msg) => this.opts.onMessage(msg),
        closed: (conn, reason) => {
          if (conn !== this.conn) return;
          this.conn = null;
          this.counters.droppedNoRoute += this.queue.length;
          this.queue = [];
          this.opening?.reject(new Error(`cannot connect to ${peerKey(this.opts.server)} at ${this.opts.address}: ${reason}`));
          this.opening = null;
          this.opts.onClose?.(reason);
        },
      },
    );
    return promise;
  }

  /** Closes the connection; nothing is delivered afterwards and `onClose` is not called. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.queue = [];
    const conn = this.conn;
    this.conn = null;
    this.opening?.reject(new Error('connection closed'));
    this.opening = null;
    if (conn === null) return;
    conn.close('closed by the client');
    await conn.done;
  }
}
