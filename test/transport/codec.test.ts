import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SeededRng } from '../../src/protocol/common/rng.js';
import { ALL_WIRE_TABLES, WIRE_MESSAGES, type WireMessage } from '../../src/protocol/wire.js';
import { MP_RECORDS, type MultiPaxosRecord } from '../../src/protocol/multipaxos/messages.js';
import {
  Codec,
  FRAME_HEADER_BYTES,
  MessageCodec,
  FrameTooLargeError,
  WIRE_VERSION,
  type DecodeError,
  type Message,
} from '../../src/transport/codec.js';
import { HANDSHAKE_MESSAGES, withHandshake } from '../../src/transport/handshake.js';
import { sampleMessages } from './samples.js';

const codec = new Codec<Message>(withHandshake(WIRE_MESSAGES));

/** Pushes `chunks` through a fresh decoder; returns the messages and the first error. */
function decodeChunks(chunks: readonly Uint8Array[], c: Codec<Message> = codec): { msgs: Message[]; error: DecodeError | null } {
  const decoder = c.decoder();
  const msgs: Message[] = [];
  for (const chunk of chunks) {
    const error = decoder.push(chunk, (msg) => msgs.push(msg));
    if (error !== null) return { msgs, error };
  }
  return { msgs, error: decoder.end() };
}

/** A frame around a raw payload, for frames the encoder would never produce. */
function rawFrame(payload: Uint8Array, version = WIRE_VERSION): Buffer {
  const frame = Buffer.alloc(FRAME_HEADER_BYTES + payload.length);
  frame.writeUInt32BE(payload.length + 1, 0);
  frame[4] = version;
  frame.set(payload, FRAME_HEADER_BYTES);
  return frame;
}

const heartbeat: WireMessage = { type: 'heartbeat', ballot: 3, committedUpTo: 9 };

describe('codec', () => {
  describe('round trip', () => {
    const table = withHandshake(WIRE_MESSAGES);
    const samples = sampleMessages(table);

    it('covers every kind in the wire table and the handshake', () => {
      const covered = new Set(samples.map((s) => s.type));
      for (const type of [...Object.keys(WIRE_MESSAGES), ...Object.keys(HANDSHAKE_MESSAGES)]) {
        assert.ok(covered.has(type), `no sample for ${type}`);
      }
    });

    for (const { type, style, msg } of samples) {
      it(`${type} (${style}) survives encode and decode unchanged`, () => {
        const frame = codec.encode(msg);
        assert.equal(frame.readUInt32BE(0), frame.length - 4);
        assert.equal(frame[4], WIRE_VERSION);
        const decoded = codec.decode(frame);
        assert.ok(decoded.ok, decoded.ok ? '' : decoded.error.message);
        assert.deepEqual(decoded.msg, msg);
      });
    }

    for (const [name, wire] of Object.entries(ALL_WIRE_TABLES)) {
      it(`every kind of the ${name} connections' table survives encode and decode unchanged`, () => {
        const c = new Codec<Message>(withHandshake(wire));
        const kinds = new Set<string>();
        for (const { type, msg } of sampleMessages(withHandshake(wire))) {
          const decoded = c.decode(c.encode(msg));
          assert.ok(decoded.ok, decoded.ok ? '' : decoded.error.message);
          assert.deepEqual(decoded.msg, msg);
          kinds.add(type);
        }
        for (const type of Object.keys(wire)) assert.ok(kinds.has(type), `no sample for ${type}`);
      });
    }

    it('each frame decodes on its own, whatever was encoded before it', () => {
      const frames = samples.map((s) => codec.encode(s.msg));
      for (let i = frames.length - 1; i >= 0; i--) {
        const decoded = codec.decode(frames[i]!);
        assert.ok(decoded.ok);
        assert.deepEqual(decoded.msg, samples[i]!.msg);
      }
    });

    it('an encoded frame stays intact while later frames are encoded', () => {
      const first = codec.encode(samples[0]!.msg);
      const copy = Buffer.from(first);
      for (let i = 0; i < 2000; i++) codec.encode(samples[i % samples.length]!.msg);
      assert.deepEqual(first, copy);
    });
  });

  describe('accepts in the log', () => {
    const records = MessageCodec.of(MP_RECORDS);
    const accept: WireMessage = {
      type: 'accept',
      ballot: 17,
      slot: 4,
      value: [{ client: 'c-0123456789ab', seq: 9, op: 'put', key: 'k', value: 'a value long enough to be bundled', expect: null }],
      committedUpTo: 3,
    };

    it('an Accept the leader sends is logged in the bytes it is sent in', () => {
      const frame = codec.encode(accept);
      const record = records.encodePayload(accept as MultiPaxosRecord, 8);
      assert.deepEqual(record.subarray(8), frame.subarray(FRAME_HEADER_BYTES));
    });

    it('an Accept a follower received is logged in the bytes it arrived in, and replays as sent', () => {
      const frame = codec.encode(accept);
      const received = codec.decode(Buffer.from(frame));
      assert.ok(received.ok);
      const record = records.encodePayload(received.msg as MultiPaxosRecord, 8);
      assert.deepEqual(record.subarray(8), frame.subarray(FRAME_HEADER_BYTES));
      const replayed = records.decodePayload(record, 8, record.length);
      assert.ok(replayed.ok);
      assert.deepEqual(replayed.msg, accept);
    });

    it('a payload is reused only for the message it was made from', () => {
      const other = { ...accept, slot: 5 } as WireMessage;
      codec.encode(accept);
      const decoded = codec.decode(codec.encode(other));
      assert.ok(decoded.ok);
      assert.deepEqual(decoded.msg, other);
    });
  });

  describe('decoder', () => {
    const frames = sampleMessages(withHandshake(WIRE_MESSAGES)).map((s) => s.msg);
    const stream = Buffer.concat(frames.map((m) => codec.encode(m)));

    it('decodes a stream split at every byte boundary', () => {
      for (let cut = 0; cut <= stream.length; cut += 1) {
        const { msgs, error } = decodeChunks([stream.subarray(0, cut), stream.subarray(cut)]);
        assert.equal(error, null);
        assert.equal(msgs.length, frames.length);
      }
    });

    it('decodes a stream pushed one byte at a time', () => {
      const chunks = Array.from(stream, (_, i) => stream.subarray(i, i + 1));
      const { msgs, error } = decodeChunks(chunks);
      assert.equal(error, null);
      assert.deepEqual(msgs, frames);
    });

    it('reports a frame cut short at any byte as truncated at the end of the stream', () => {
      const frame = codec.encode(heartbeat);
      for (let len = 1; len < frame.length; len++) {
        const { msgs, error } = decodeChunks([frame.subarray(0, len)]);
        assert.equal(msgs.length, 0);
        assert.equal(error?.kind, 'truncated', `cut at ${len}`);
      }
    });

    it('refuses an oversize length prefix before any of the frame arrives', () => {
      const small = new Codec<Message>(WIRE_MESSAGES, 1024);
      const prefix = Buffer.alloc(4);
      prefix.writeUInt32BE(1025, 0);
      const decoder = small.decoder();
      const error = decoder.push(prefix, () => assert.fail('nothing to deliver'));
      assert.equal(error?.kind, 'oversize');
      assert.equal(decoder.bufferedBytes, 0);
      const huge = Buffer.alloc(4);
      huge.writeUInt32BE(0xffffffff, 0);
      assert.equal(decodeChunks([huge]).error?.kind, 'oversize');
    });

    it('refuses to encode a frame the receiver would refuse', () => {
      const small = new Codec<Message>(WIRE_MESSAGES, 64);
      assert.throws(() => small.encode({ type: 'request', cmd: { client: 'c', seq: 1, op: 'put', key: 'k'.repeat(64), value: 'v', expect: null } } as WireMessage), FrameTooLargeError);
    });

    it('refuses a table whose columns differ in length, naming the column', () => {
      const frame = codec.encode({ type: 'replies', replies: { seq: [1, 2], status: ['ok', 'ok'], output: [null], leader: [0, 0] } } as WireMessage);
      const decoded = codec.decode(frame);
      assert.ok(!decoded.ok);
      assert.equal(decoded.error.kind, 'schema');
      assert.match(decoded.error.message, /replies\.replies\.output: expected 2 items/);
    });

    it('reports a wrong wire version', () => {
      const frame = codec.encode(heartbeat);
      frame[4] = WIRE_VERSION + 1;
      assert.equal(decodeChunks([frame]).error?.kind, 'version');
    });

    it('reports an unknown code', () => {
      const payload = codec.encode(heartbeat).subarray(FRAME_HEADER_BYTES);
      const unknown = Buffer.from(payload);
      assert.equal(unknown[0], 0x92, 'payload is a 2-element array');
      unknown[1] = 0x7f; // positive fixint 127: no kind has it
      assert.equal(decodeChunks([rawFrame(unknown)]).error?.kind, 'unknown_code');
    });

    it('reports a schema violation with the offending field', () => {
      const bad = new Codec<Message>({ heartbeat: { code: WIRE_MESSAGES.heartbeat.code, schema: { ballot: 'str', committedUpTo: 'nat' } } });
      const frame = bad.encode({ type: 'heartbeat', ballot: 'not a number', committedUpTo: 1 } as Message);
      const { error } = decodeChunks([frame]);
      assert.equal(error?.kind, 'schema');
      assert.match(error?.message ?? '', /heartbeat\.ballot/);
      const negative = bad.encode({ type: 'heartbeat', ballot: 'x', committedUpTo: -1 } as Message);
      assert.equal(decodeChunks([negative]).error?.kind, 'schema');
    });

    it('reports payloads that are not [code, body] as undecodable', () => {
      const cases = [
        Buffer.from([0xc1]), // never-used msgpack byte
        Buffer.from([0x92, 0x24]), // array of 2 with one element
        Buffer.from([0x2a]), // the number 42
        Buffer.from([0x92, 0x24, 0x80, 0x00]), // trailing byte
      ];
      for (const payload of cases) assert.equal(decodeChunks([rawFrame(payload)]).error?.kind, 'undecodable', payload.toString('hex'));
      assert.equal(decodeChunks([rawFrame(Buffer.from([0x92, 0x24, 0x90]))]).error?.kind, 'schema'); // body is an array
      const empty = Buffer.alloc(4);
      assert.equal(decodeChunks([empty]).error?.kind, 'undecodable');
    });

    it('delivers the frames before an error, then stays failed', () => {
      const good = codec.encode(heartbeat);
      const bad = Buffer.from(good);
      bad[4] = 99;
      const decoder = codec.decoder();
      const msgs: Message[] = [];
      const error = decoder.push(Buffer.concat([good, bad, good]), (m) => msgs.push(m));
      assert.equal(error?.kind, 'version');
      assert.equal(msgs.length, 1);
      assert.equal(decoder.push(good, (m) => msgs.push(m)), error);
      assert.equal(msgs.length, 1);
    });

    it('never throws on random bytes, and whatever it delivers passes the schema', () => {
      const rng = new SeededRng(7);
      for (let round = 0; round < 3000; round++) {
        const bytes = Buffer.alloc(rng.range(1, 64));
        for (let i = 0; i < bytes.length; i++) bytes[i] = rng.int(256);
        if (round % 2 === 0 && bytes.length >= 4) bytes.writeUInt32BE(Math.min(bytes.length - 4, rng.int(64)), 0);
        if (round % 4 === 0 && bytes.length > 4) bytes[4] = WIRE_VERSION;
        const decoded = decodeChunks([bytes]);
        for (const msg of decoded.msgs) assert.ok(msg.type in withHandshake(WIRE_MESSAGES));
      }
    });

    it('never throws on random corruptions of valid frames', () => {
      const rng = new SeededRng(11);
      for (let round = 0; round < 3000; round++) {
        const frame = Buffer.from(codec.encode(frames[rng.int(frames.length)]!));
        for (let flips = rng.range(1, 3); flips > 0; flips--) frame[rng.range(5, frame.length - 1)] = rng.int(256);
        decodeChunks([frame]);
      }
    });
  });
});
