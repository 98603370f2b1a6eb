/**
 * Messages between a client library session and a replica, shared by every protocol.
 */
import type { MessagesOf } from './schema.js';
import { type Command, OP_NAMES } from './kv.js';

export const COMMAND_SCHEMA = {
  client: 'str',
  seq: 'nat',
  op: { enum: OP_NAMES },
  key: 'str',
  value: { nullable: 'str' },
  expect: { nullable: 'str' },
} as const;

/**
 * Why a request did not produce a result:
 * - not_leader: this replica does not lead the shard (`leader` is a hint, -1 when unknown); nothing happened.
 * - wrong_shard: the key does not belong to this shard; nothing happened.
 * - busy: the leader's queue is full; nothing happened.
 * - stale: the sequence number is older than the session table remembers; it did not run now,
 *   and whether an earlier copy ran is no longer known.
 * - failed: the operation definitely did not and never will take effect (MDL).
 * - bad_request: the command is malformed; nothing happened.
 */
export const REPLY_STATUSES = ['ok', 'not_leader', 'wrong_shard', 'busy', 'stale', 'failed', 'bad_request'] as const;
export type ReplyStatus = (typeof REPLY_STATUSES)[number];

const REPLY_SCHEMA = { seq: 'nat', status: { enum: REPLY_STATUSES }, output: 'output', leader: 'int' } as const;

/**
 * `requests` and `replies` carry many of one client's commands or results in one message: a
 * pipelining client sends every request it issued in one turn to a leader as one `requests`, and
 * a leader answers the commands of one client that one step completed with one `replies`. Each
 * item means exactly what a lone `request` or `reply` would (a lone one still travels as such).
 * Batching only saves framing and encoding per operation; it promises nothing about order.
 * Both hold their items column by column (command i of a `requests` is `client`, `seqs[i]`,
 * `ops[i]`, `keys[i]`, `values[i]`, `expects[i]`; reply i is `seqs[i]`, `statuses[i]`, ...):
 * arrays of plain values encode, decode and check in a fraction of the time of one object per
 * item. One whose columns differ in length is malformed and ignored (`commandsOf`, `replyCount`).
 */
export const CLIENT_MESSAGES = {
  request: { code: 1, schema: { cmd: { obj: COMMAND_SCHEMA } } },
  reply: { code: 2, schema: REPLY_SCHEMA },
  requests: {
    code: 8,
    schema: {
      client: 'str',
      seqs: { arr: 'nat' },
      ops: { arr: { enum: OP_NAMES } },
      keys: { arr: 'str' },
      values: { arr: { nullable: 'str' } },
      expects: { arr: { nullable: 'str' } },
    },
  },
  replies: {
    code: 9,
    schema: { seqs: { arr: 'nat' }, statuses: { arr: { enum: REPLY_STATUSES } }, outputs: { arr: 'output' }, leaders: { arr: 'int' } },
  },
} as const;

/**
 * Limits of one `requests` or `replies` message: items, and characters of the strings its items
 * carry (at most 3 bytes each in UTF-8), which keeps it far below any frame limit. A single item
 * larger than the budget travels alone.
 */
export const BATCH_ITEMS_MAX = 4096;
export const BATCH_CHARS_MAX = 1 << 20;

/**
 * Items 0..count-1 cut, in order, into runs within the batch limits (`chars(i)` measures item
 * i): the end (exclusive) of each run.
 */
export function batchEnds(count: number, chars: (i: number) => number): number[] {
  const ends: number[] = [];
  let start = 0;
  let runChars = 0;
  for (let i = 0; i < count; i++) {
    const c = chars(i);
    if (i > start && (i - start >= BATCH_ITEMS_MAX || runChars + c > BATCH_CHARS_MAX)) {
      ends.push(i);
      start = i;
      runChars = 0;
    }
    runChars += c;
  }
  if (start < count) ends.push(count);
  return ends;
}

export type ClientMessage = MessagesOf<typeof CLIENT_MESSAGES>;
export type Request = Extract<ClientMessage, { type: 'request' }>;
export type Reply = Extract<ClientMessage, { type: 'reply' }>;
export type Requests = Extract<ClientMessage, { type: 'requests' }>;
export type Replies = Extract<ClientMessage, { type: 'replies' }>;

/** `cmds`, every one of `client`, as one `requests` message. */
export function requestsOf(client: string, cmds: readonly Command[]): Requests {
  const n = cmds.length;
  const msg: Requests = { type: 'requests', client, seqs: new Array<number>(n), ops: new Array<Command['op']>(n), keys: new Array<string>(n), values: new Array<string | null>(n), expects: new Array<string | null>(n) };
  for (let i = 0; i < n; i++) {
    const c = cmds[i] as Command;
    msg.seqs[i] = c.seq;
    msg.ops[i] = c.op;
    msg.keys[i] = c.key;
    msg.values[i] = c.value;
    msg.expects[i] = c.expect;
  }
  return msg;
}

/** The commands `msg` holds, or null when its columns differ in length (it is to be ignored). */
export function commandsOf(msg: Requests): Command[] | null {
  const n = msg.seqs.length;
  if (msg.ops.length !== n || msg.keys.length !== n || msg.values.length !== n || msg.expects.length !== n) return null;
  const cmds = new Array<Command>(n);
  for (let i = 0; i < n; i++) {
    cmds[i] = { client: msg.client, seq: msg.seqs[i] as number, op: msg.ops[i] as Command['op'], key: msg.keys[i] as string, value: msg.values[i] as string | null, expect: msg.expects[i] as string | null };
  }
  return cmds;
}

/** How many replies `msg` holds, or -1 when its columns differ in length (it is to be ignored). */
export function replyCount(msg: Replies): number {
  const n = msg.seqs.length;
  return msg.statuses.length === n && msg.outputs.length === n && msg.leaders.length === n ? n : -1;
}

/**
 * Operator and test-harness messages to a replica (from a client connection): fault injection
 * for the torture harness and a digest of the executed state for convergence checks. They never
 * reach a protocol core.
 */
export const ADMIN_MESSAGES = {
  /** Drop (or stop dropping) all traffic to and from one peer replica; `replica` -1: every peer. */
  control: { code: 3, schema: { action: { enum: ['block', 'unblock'] }, shard: 'nat', replica: 'int' } },
  digestRequest: { code: 4, schema: {} },
  /** `hash`: SHA-256 of the canonical executed state; equal hashes at equal `executed` mean converged. */
  digest: { code: 5, schema: { shard: 'nat', replica: 'nat', executed: 'nat', keys: 'nat', hash: 'str' } },
  /** MDL latency breakdown: the medians this replica measured as leader; `reset` starts afresh. */
  phasesRequest: { code: 6, schema: { reset: 'bool' } },
  /**
   * Median milliseconds an operation spent: `pending` (arrival to round 1 chosen), `committed`
   * (then waiting for its predecessor's timestamp), `coordinated` (then until its order item was
   * proposed), `ordered` (round 2: proposed to executed); over `count` operations.
   */
  phases: {
    code: 7,
    schema: { shard: 'nat', replica: 'nat', count: 'nat', pending: 'num', committed: 'num', coordinated: 'num', ordered: 'num' },
  },
} as const;

export type AdminMessage = MessagesOf<typeof ADMIN_MESSAGES>;
