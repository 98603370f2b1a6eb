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
 * Batching only saves framing and encoding per operation; it promises nothing about order. Both
 * hold their items as tables (column by column), and a `requests` names its client once.
 */
export const CLIENT_MESSAGES = {
  request: { code: 1, schema: { cmd: { obj: COMMAND_SCHEMA } } },
  reply: { code: 2, schema: REPLY_SCHEMA },
  requests: {
    code: 8,
    schema: {
      client: 'str',
      cmds: { table: { seq: 'nat', op: { enum: OP_NAMES }, key: 'str', value: { nullable: 'str' }, expect: { nullable: 'str' } } },
    },
  },
  replies: { code: 9, schema: { replies: { table: REPLY_SCHEMA } } },
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
  const t: Requests['cmds'] = { seq: new Array<number>(n), op: new Array<Command['op']>(n), key: new Array<string>(n), value: new Array<string | null>(n), expect: new Array<string | null>(n) };
  for (let i = 0; i < n; i++) {
    const c = cmds[i] as Command;
    t.seq[i] = c.seq;
    t.op[i] = c.op;
    t.key[i] = c.key;
    t.value[i] = c.value;
    t.expect[i] = c.expect;
  }
  return { type: 'requests', client, cmds: t };
}

/** The commands `msg` holds. */
export function commandsOf(msg: Requests): Command[] {
  const t = msg.cmds;
  const cmds = new Array<Command>(t.seq.length);
  for (let i = 0; i < cmds.length; i++) {
    cmds[i] = { client: msg.client, seq: t.seq[i] as number, op: t.op[i] as Command['op'], key: t.key[i] as string, value: t.value[i] as string | null, expect: t.expect[i] as string | null };
  }
  return cmds;
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
