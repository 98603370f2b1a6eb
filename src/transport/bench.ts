/**
 * Codec throughput: how fast a leader can frame Accept batches and a follower decode and check
 * them, and the same for the small messages that dominate client traffic.
 */
import type { Command } from '../protocol/common/kv.js';
import { WIRE_MESSAGES, type WireMessage } from '../protocol/wire.js';
import { Codec } from './codec.js';

export interface CodecBenchResult {
  readonly name: string;
  readonly frameBytes: number;
  readonly encodesPerSec: number;
  readonly decodesPerSec: number;
}

/** Calls `fn` repeatedly for about `budgetMs` (after a warm-up) and returns calls per second. */
function rate(fn: () => void, budgetMs: number): number {
  for (let i = 0; i < 50; i++) fn();
  let calls = 0;
  const start = performance.now();
  let elapsedMs = 0;
  while (elapsedMs < budgetMs) {
    for (let i = 0; i < 20; i++) fn();
    calls += 20;
    elapsedMs = performance.now() - start;
  }
  return (calls * 1000) / elapsedMs;
}

function sampleCommand(i: number): Command {
  const write = i % 4 !== 0;
  return {
    client: `client-${i % 64}`,
    seq: 1_000_000 + i,
    op: write ? 'put' : 'get',
    key: `key-${(i * 7919) % 100_000}`,
    value: write ? `value-${i.toString(36).padStart(10, '0')}` : null,
    expect: null,
  };
}

function measure(codec: Codec<WireMessage>, name: string, msg: WireMessage, budgetMs: number): CodecBenchResult {
  const frame = codec.encode(msg);
  // A fresh object each time: the codec keeps the bytes of a bulk message it has encoded, and a
  // leader encodes each Accept it makes once.
  const encodesPerSec = rate(() => codec.encode({ ...msg }), budgetMs);
  const decodesPerSec = rate(() => {
    if (!codec.decode(frame).ok) throw new Error(`${name} does not decode`);
  }, budgetMs);
  return { name, frameBytes: frame.length, encodesPerSec, decodesPerSec };
}

/** Prints and returns encode/decode rates (decode includes the schema check). */
export function benchCodec(budgetMs = 500): CodecBenchResult[] {
  const codec = Codec.of(WIRE_MESSAGES);
  const commandsPerAccept = 1000;
  const cmds = Array.from({ length: commandsPerAccept }, (_, i) => sampleCommand(i));
  const results = [
    measure(codec, `accept(${commandsPerAccept} cmds)`, { type: 'accept', ballot: 17, slot: 123_456, value: cmds, committedUpTo: 123_400 }, budgetMs),
    measure(codec, 'acceptReply', { type: 'acceptReply', ballot: 17, slot: 123_456, ok: true, promised: 17, committedUpTo: 123_400 }, budgetMs),
    measure(codec, 'request', { type: 'request', cmd: sampleCommand(1) }, budgetMs),
    measure(codec, 'reply', { type: 'reply', seq: 1_000_001, status: 'ok', output: null, leader: 0 }, budgetMs),
  ];
  for (const r of results) {
    const perCmd = r.name.startsWith('accept(') ? commandsPerAccept : 1;
    console.log(
      `codec ${r.name.padEnd(18)} ${String(r.frameBytes).padStart(6)} B/frame  ` +
        `encode ${fmt(r.encodesPerSec)}/s (${fmt(r.encodesPerSec * perCmd)} cmds/s)  ` +
        `decode+check ${fmt(r.decodesPerSec)}/s (${fmt(r.decodesPerSec * perCmd)} cmds/s)`,
    );
  }
  return results;
}

function fmt(n: number): string {
  return n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)}k` : n.toFixed(0);
}
