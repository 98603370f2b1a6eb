/**
 * The byte format of everything mdlin sends or stores, built on msgpackr.
 *
 * A payload is the msgpack encoding of `[code, body]`, where `code` is the message kind's wire
 * code from a `MessageTable` and `body` is the message without its `type`. A frame is
 * `[u32 BE length of what follows][u8 wire version][payload]`. Every decoded payload is checked
 * against its schema, so nothing malformed reaches a core; every problem is returned as a
 * `DecodeError` value, never thrown.
 */
import { Packr, RESERVE_START_SPACE, Unpackr } from 'msgpackr';
import { assert, AssertionError } from '../protocol/common/assert.js';
import { checkSchema, type Field, type MessageTable, type MessagesOf, type Schema } from '../protocol/common/schema.js';

export const WIRE_VERSION = 1;
/** u32 length prefix + u8 wire version. */
export const FRAME_HEADER_BYTES = 5;
export const FRAME_BYTES_MAX_DEFAULT = 16 * 1024 * 1024;

/**
 * msgpackr options, chosen by measurement (`benchCodec`). Messages that carry arrays (an Accept
 * with a batch of commands, a shard map) use records, where msgpackr writes an object's keys
 * once per payload and then only its values, and bundled strings (all strings of a payload
 * decoded in one pass): against plain maps that makes an Accept 40% smaller and decodes it four
 * times faster. Small flat messages (replies, requests, votes) are encoded as plain maps, which is
 * two to three times faster for them. No `structures` are shared between payloads: each
 * payload carries its own record definitions, so every frame and log record decodes on its
 * own, whatever was lost or reordered before it, and one decoder reads both forms. Maps decode
 * as plain objects, which is what the schema check expects. Decoded strings may be slices of
 * one string holding all of a payload's strings, so keeping one alive keeps the others too.
 */
const bulkPackr = new Packr({ useRecords: true, bundleStrings: true });
const flatPackr = new Packr({ useRecords: false });
const unpackr = new Unpackr({ mapsAsObjects: true });

/**
 * The payloads of bulk messages (the kinds that carry arrays, encoded with `bulkPackr`) by message
 * object, as last encoded or decoded, with their code: a replica logs the very Accept it sends or
 * received, so that object is encoded once for the log and the followers, or, on a follower,
 * never (the log gets the bytes it arrived in). Shared by every codec, since a log's table and
 * the wire's give the Accept one code and schema; a payload is reused only under the same code.
 * Messages are values: nothing changes one after it was encoded or decoded.
 */
const bulkPayloads = new WeakMap<object, { readonly code: number; readonly bytes: Uint8Array }>();

function carriesArrays(field: Field): boolean {
  if (typeof field === 'string') return false;
  if ('arr' in field || 'table' in field) return true;
  if ('nullable' in field) return carriesArrays(field.nullable);
  if ('obj' in field) return Object.values(field.obj).some(carriesArrays);
  return false;
}

export type DecodeErrorKind =
  /** The length prefix announces more than `frameBytesMax`. */
  | 'oversize'
  /** The frame's wire version is not ours. */
  | 'version'
  /** msgpack could not decode the payload, or it is not `[code, body]`. */
  | 'undecodable'
  /** No message kind has this code. */
  | 'unknown_code'
  /** The body does not match the kind's schema. */
  | 'schema'
  /** The stream ended inside a frame. */
  | 'truncated';

export interface DecodeError {
  readonly kind: DecodeErrorKind;
  /** One line for a log, naming what was wrong. */
  readonly message: string;
}

export type Decoded<M> = { readonly ok: true; readonly msg: M } | { readonly ok: false; readonly error: DecodeError };

function decodeError(kind: DecodeErrorKind, message: string): { ok: false; error: DecodeError } {
  return { ok: false, error: { kind, message } };
}

/** Sending a frame that the receiver would refuse is a bug in the sender (a missing limit). */
export class FrameTooLargeError extends Error {
  override readonly name = 'FrameTooLargeError';
}

/** Any message: a `type` naming its kind in a `MessageTable`. */
export type Message = { readonly type: string };

/**
 * Encodes and decodes the payloads of one `MessageTable`, whose messages are `M` (generic over
 * the message union rather than the table, so code that handles any table stays simple).
 */
export class MessageCodec<M extends Message> {
  private readonly byCode = new Map<number, { readonly type: string; readonly schema: Schema; readonly bulk: boolean }>();
  private readonly byType = new Map<string, { readonly code: number; readonly bulk: boolean }>();

  /** The codec of `table`'s messages. */
  static of<T extends MessageTable>(table: T): MessageCodec<MessagesOf<T>> {
    return new MessageCodec(table);
  }

  constructor(table: MessageTable) {
    for (const [type, { code, schema }] of Object.entries(table)) {
      assert(!this.byCode.has(code), `wire code ${code} is used twice (${type})`);
      const bulk = carriesArrays({ obj: schema });
      this.byCode.set(code, { type, schema, bulk });
      this.byType.set(type, { code, bulk });
    }
  }

  /**
   * The payload of `msg`, preceded by `headerBytes` (< 256) unwritten bytes for the caller's
   * header, so framing needs no second copy. The returned buffer is the caller's to keep; it
   * writes only the header.
   */
  encodePayload(msg: M, headerBytes: number): Buffer {
    assert(headerBytes >= 0 && headerBytes < 256, 'headerBytes must fit in a byte');
    const entry = this.byType.get(msg.type);
    if (entry === undefined) throw new AssertionError(`no wire code for message type ${msg.type}`);
    if (!entry.bulk) {
      const { type: _, ...body } = msg;
      return flatPackr.pack([entry.code, body], RESERVE_START_SPACE | headerBytes);
    }
    const known = bulkPayloads.get(msg);
    if (known !== undefined && known.code === entry.code) {
      const copy = Buffer.allocUnsafe(headerBytes + known.bytes.length);
      copy.set(known.bytes, headerBytes);
      return copy;
    }
    const { type: _, ...body } = msg;
    const encoded = bulkPackr.pack([entry.code, body], RESERVE_START_SPACE | headerBytes);
    bulkPayloads.set(msg, { code: entry.code, bytes: encoded.subarray(headerBytes) });
    return encoded;
  }

  /** Decodes and checks the payload in `buf[start, end)`. */
  decodePayload(buf: Uint8Array, start: number, end: number): Decoded<M> {
    if (end <= start) return decodeError('undecodable', 'empty payload');
    let payload: unknown;
    try {
      payload = unpackr.unpack(buf, { start, end });
    } catch (err) {
      return decodeError('undecodable', `undecodable payload: ${(err as Error).message}`);
    }
    if (!Array.isArray(payload) || payload.length !== 2) {
      return decodeError('undecodable', 'payload is not [code, body]');
    }
    const [code, body] = payload as [unknown, unknown];
    const entry = typeof code === 'number' ? this.byCode.get(code) : undefined;
    if (entry === undefined) return decodeError('unknown_code', `unknown message code ${String(code)}`);
    if (typeof body !== 'object' || body === null || Object.getPrototypeOf(body) !== Object.prototype) {
      return decodeError('schema', `${entry.type}: body is not a plain object`);
    }
    const problem = checkSchema(entry.schema, body, entry.type);
    if (problem !== null) return decodeError('schema', problem);
    // The body is a fresh object nobody else holds: tag it in place rather than copy it.
    (body as { type: string }).type = entry.type;
    if (entry.bulk) bulkPayloads.set(body, { code: code as number, bytes: buf.subarray(start, end) });
    return { ok: true, msg: body as M };
  }
}

/** Frames of one `MessageTable`: encoding, and decoders for byte streams. */
export class Codec<M extends Message> {
  readonly payloads: MessageCodec<M>;

  /** The frame codec of `table`'s messages. */
  static of<T extends MessageTable>(table: T, frameBytesMax?: number): Codec<MessagesOf<T>> {
    return new Codec(table, frameBytesMax);
  }

  constructor(
    table: MessageTable,
    readonly frameBytesMax: number = FRAME_BYTES_MAX_DEFAULT,
  ) {
    assert(Number.isSafeInteger(frameBytesMax) && frameBytesMax >= 2 && frameBytesMax <= 0xffffffff, 'frameBytesMax out of range');
    this.payloads = new MessageCodec(table);
  }

  /** One complete frame. Throws FrameTooLargeError when it exceeds `frameBytesMax`. */
  encode(msg: M): Buffer {
    const frame = this.payloads.encodePayload(msg, FRAME_HEADER_BYTES);
    const length = frame.length - 4;
    if (length > this.frameBytesMax) {
      throw new FrameTooLargeError(`${msg.type} frame of ${length} bytes exceeds frameBytesMax ${this.frameBytesMax}`);
    }
    frame.writeUInt32BE(length, 0);
    frame[4] = WIRE_VERSION;
    return frame;
  }

  /** Decodes exactly one complete frame (length prefix included), e.g. one handed over in memory. */
  decode(frame: Uint8Array): Decoded<M> {
    const msgs: M[] = [];
    const decoder = this.decoder();
    const error = decoder.push(frame, (msg) => msgs.push(msg)) ?? decoder.end();
    if (error !== null) return { ok: false, error };
    const [msg] = msgs;
    if (msg === undefined || msgs.length > 1) return decodeError('undecodable', `expected one frame, found ${msgs.length}`);
    return { ok: true, msg };
  }

  decoder(): FrameDecoder<M> {
    return new FrameDecoder(this.payloads, this.frameBytesMax);
  }
}

/**
 * Turns a byte stream, pushed in chunks of any size, back into messages. Frames that lie
 * whole inside a chunk are decoded where they lie; only a frame cut by a chunk boundary is
 * copied, once, into a buffer of its announced size (allocated after the size was checked).
 * After the first error the decoder is spent: the stream can no longer be trusted.
 */
export class FrameDecoder<M extends Message> {
  /** The length prefix, while it is split across chunks. */
  private readonly prefix = Buffer.alloc(4);
  private prefixBytes = 0;
  /** The frame being assembled across chunks (without its prefix), and how much of it arrived. */
  private partial: Buffer | null = null;
  private partialBytes = 0;
  private failure: DecodeError | null = null;

  constructor(
    private readonly payloads: MessageCodec<M>,
    readonly frameBytesMax: number,
  ) {}

  /** Bytes received that do not yet form a complete frame. */
  get bufferedBytes(): number {
    return this.prefixBytes + this.partialBytes;
  }

  /**
   * Decodes every frame completed by `chunk`, handing each message to `deliver` in order.
   * Returns the first error (the messages before it were delivered), or null.
   */
  push(chunk: Uint8Array, deliver: (msg: M) => void): DecodeError | null {
    if (this.failure !== null) return this.failure;
    let offset = 0;
    const end = chunk.length;
    while (offset < end) {
      if (this.partial !== null) {
        const take = Math.min(this.partial.length - this.partialBytes, end - offset);
        this.partial.set(chunk.subarray(offset, offset + take), this.partialBytes);
        this.partialBytes += take;
        offset += take;
        if (this.partialBytes < this.partial.length) break;
        const frame = this.partial;
        this.partial = null;
        this.partialBytes = 0;
        if (!this.decodeFrame(frame, 0, frame.length, deliver)) return this.failure;
        continue;
      }
      let length: number;
      if (this.prefixBytes > 0 || end - offset < 4) {
        const take = Math.min(4 - this.prefixBytes, end - offset);
        this.prefix.set(chunk.subarray(offset, offset + take), this.prefixBytes);
        this.prefixBytes += take;
        offset += take;
        if (this.prefixBytes < 4) break;
        this.prefixBytes = 0;
        length = this.prefix.readUInt32BE(0);
      } else {
        length = ((chunk[offset]! << 24) | (chunk[offset + 1]! << 16) | (chunk[offset + 2]! << 8) | chunk[offset + 3]!) >>> 0;
        offset += 4;
      }
      if (length > this.frameBytesMax) {
        return this.fail('oversize', `frame of ${length} bytes exceeds frameBytesMax ${this.frameBytesMax}`);
      }
      if (length === 0) return this.fail('undecodable', 'empty frame');
      if (end - offset >= length) {
        if (!this.decodeFrame(chunk, offset, offset + length, deliver)) return this.failure;
        offset += length;
      } else {
        this.partial = Buffer.allocUnsafe(length);
        this.partialBytes = 0;
      }
    }
    return null;
  }

  /** The stream ended: an error if it stopped inside a frame. */
  end(): DecodeError | null {
    if (this.failure !== null) return this.failure;
    if (this.prefixBytes > 0) {
      return this.fail('truncated', `stream ended inside a length prefix (${this.prefixBytes} of 4 bytes)`);
    }
    if (this.partial !== null) {
      return this.fail('truncated', `stream ended inside a frame (${this.partialBytes} of ${this.partial.length} bytes)`);
    }
    return null;
  }

  /** Decodes the frame body (version byte + payload) in `buf[start, end)`; false on error. */
  private decodeFrame(buf: Uint8Array, start: number, end: number, deliver: (msg: M) => void): boolean {
    const version = buf[start]!;
    if (version !== WIRE_VERSION) {
      this.fail('version', `wire version ${version} is not supported (this side speaks ${WIRE_VERSION})`);
      return false;
    }
    const decoded = this.payloads.decodePayload(buf, start + 1, end);
    if (!decoded.ok) {
      this.failure = decoded.error;
      return false;
    }
    deliver(decoded.msg);
    return true;
  }

  private fail(kind: DecodeErrorKind, message: string): DecodeError {
    this.failure = { kind, message };
    return this.failure;
  }
}
