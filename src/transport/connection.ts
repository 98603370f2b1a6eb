/**
 * One TCP connection after `connect`/`accept`: the handshake, framing, write coalescing and
 * closing on the first malformed frame. Used by the TCP transport for both directions and by
 * the client connection helper.
 */
import type { Socket } from 'node:net';
import { Codec, type FrameDecoder, type Message } from './codec.js';
import {
  HANDSHAKE_MESSAGES,
  checkHello,
  describePeer,
  helloFor,
  type HandshakeMessage,
  type Hello,
} from './handshake.js';
import { peerKey, samePeer, type Logger, type PeerId, type TransportStats } from './transport.js';

export const HANDSHAKE_TIMEOUT_MS_DEFAULT = 5000;
export const WRITE_BUFFER_BYTES_MAX_DEFAULT = 64 * 1024 * 1024;

const handshakeCodec = Codec.of(HANDSHAKE_MESSAGES);

export interface ConnectionOptions {
  readonly self: PeerId;
  readonly cluster: string;
  /** Set on the dialling side: who must answer (its hello is checked against it). */
  readonly expected: PeerId | null;
  /** Time from the start of the connection to a completed handshake. */
  readonly handshakeTimeoutMs: number;
  /** Bytes a slow peer may leave unsent before further frames to it are dropped. */
  readonly writeBufferBytesMax: number;
  readonly log: Logger;
  readonly stats: TransportStats;
}

export interface ConnectionHandlers<M> {
  /** The handshake completed; `conn.peer` is set. */
  opened(conn: Connection<M>): void;
  message(conn: Connection<M>, msg: M): void;
  /** Called once, whatever ended the connection. */
  closed(conn: Connection<M>, reason: string): void;
}

type Refuse = Extract<HandshakeMessage, { type: 'refuse' }>;

export class Connection<M> {
  /** Who the other side said it is; null until the handshake completes. */
  peer: PeerId | null = null;
  state: 'handshaking' | 'open' | 'closed' = 'handshaking';
  /** Resolves once the socket is fully closed. */
  readonly done: Promise<void>;
  private readonly decoder: FrameDecoder<Message>;
  private reason = 'closed';
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private flushScheduled = false;
  private handshakeTimer: NodeJS.Timeout | null;
  private readonly remote: string;

  /**
   * `wire` decodes the application table plus the handshake kinds (see `withHandshake`);
   * the messages it yields that are not handshake kinds are of type `M`.
   */
  constructor(
    private readonly socket: Socket,
    wire: Codec<Message>,
    private readonly opts: ConnectionOptions,
    private readonly handlers: ConnectionHandlers<M>,
  ) {
    this.decoder = wire.decoder();
    this.remote = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
    this.done = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('end', () => this.onEnd());
    socket.on('error', (err) => this.setReason(err.message));
    socket.on('close', () => this.onClose());
    this.handshakeTimer = setTimeout(() => this.refuse('handshake timed out'), opts.handshakeTimeoutMs);
    if (opts.expected !== null) {
      if (socket.connecting) socket.once('connect', () => this.sendHello());
      else this.sendHello();
    }
  }

  /** `host:port` of the other end, with its identity once known. */
  get name(): string {
    return describePeer(this.peer, this.remote);
  }

  /**
   * Queues an encoded frame; all frames queued in one event-loop turn leave in one socket
   * write. False (and counted) when the connection is not open or its write buffer is full.
   */
  send(frame: Buffer): boolean {
    if (this.state !== 'open') return false;
    if (this.socket.writableLength + this.pendingBytes + frame.length > this.opts.writeBufferBytesMax) {
      this.opts.stats.droppedOverflow++;
      return false;
    }
    this.enqueue(frame);
    this.opts.stats.framesSent++;
    return true;
  }

  /** Closes now; frames not yet written are lost. */
  close(reason: string): void {
    this.setReason(reason);
    this.state = 'closed';
    this.clearHandshakeTimer();
    if (!this.socket.destroyed) this.socket.destroy();
  }

  private enqueue(frame: Buffer): void {
    this.pending.push(frame);
    this.pendingBytes += frame.length;
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      // At the end of the event-loop turn, after every socket read of this turn was handled: a
      // leader answering many clients from several acknowledgements then writes once to each.
      setImmediate(() => this.flush());
    }
  }

  private flush(): void {
    this.flushScheduled = false;
    if (this.pending.length === 0 || this.socket.destroyed) return;
    const data = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    this.opts.stats.writes++;
    this.opts.stats.bytesSent += data.length;
    this.socket.write(data);
  }

  private sendHello(): void {
    if (this.state === 'closed') return;
    this.enqueue(handshakeCodec.encode(helloFor(this.opts.self, this.opts.cluster)));
  }

  private onData(chunk: Buffer): void {
    this.opts.stats.bytesReceived += chunk.length;
    const error = this.decoder.push(chunk, (msg) => this.onFrame(msg));
    if (error !== null) this.refuse(`malformed frame (${error.kind}): ${error.message}`);
  }

  private onFrame(msg: Message): void {
    if (this.state === 'closed') return;
    switch (msg.type) {
      case 'hello':
        if (this.state === 'open') this.refuse('second hello');
        else this.onHello(msg as Hello);
        return;
      case 'refuse': {
        const { reason } = msg as Refuse;
        this.opts.log(`${this.name} refused the connection: ${reason}`);
        this.opts.stats.connectionsRejected++;
        this.close(`refused: ${reason}`);
        return;
      }
      default:
        if (this.state === 'handshaking') {
          this.refuse(`${msg.type} before the handshake`);
          return;
        }
        this.opts.stats.framesReceived++;
        this.handlers.message(this, msg as M);
    }
  }

  private onHello(hello: Hello): void {
    const check = checkHello(hello, this.opts.cluster);
    if (!check.ok) {
      this.refuse(check.reason);
      return;
    }
    const { expected } = this.opts;
    if (expected !== null && !samePeer(expected, check.peer)) {
      this.refuse(`expected ${peerKey(expected)} but ${peerKey(check.peer)} answered`);
      return;
    }
    this.peer = check.peer;
    this.clearHandshakeTimer();
    if (expected === null) this.sendHello();
    this.state = 'open';
    this.handlers.opened(this);
  }

  /** Logs why, tells the other side in a refuse frame, and closes once that is written. */
  private refuse(reason: string): void {
    if (this.state === 'closed') return;
    this.opts.log(`closing connection with ${this.name}: ${reason}`);
    this.opts.stats.connectionsRejected++;
    if (this.socket.connecting) {
      this.close(reason);
      return;
    }
    this.setReason(reason);
    this.state = 'closed';
    this.clearHandshakeTimer();
    this.flush();
    this.socket.end(handshakeCodec.encode({ type: 'refuse', reason }), () => this.socket.destroy());
  }

  private onEnd(): void {
    const error = this.decoder.end();
    if (error !== null && this.state !== 'closed') this.opts.log(`${this.name} ended the stream: ${error.message}`);
    this.close(error === null ? 'closed by peer' : error.message);
  }

  private onClose(): void {
    this.state = 'closed';
    this.clearHandshakeTimer();
    this.pending = [];
    this.pendingBytes = 0;
    this.handlers.closed(this, this.reason);
  }

  /** Keeps the first reason given: later ones are consequences. */
  private setReason(reason: string): void {
    if (this.reason === 'closed') this.reason = reason;
  }

  private clearHandshakeTimer(): void {
    if (this.handshakeTimer !== null) clearTimeout(this.handshakeTimer);
    this.handshakeTimer = null;
  }
}
