/**
 * Messages between a client library session and a replica, shared by every protocol.
 */
import type { MessagesOf } from './schema.js';
import { OP_NAMES } from './kv.js';

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

export const CLIENT_MESSAGES = {
  request: { code: 1, schema: { cmd: { obj: COMMAND_SCHEMA } } },
  reply: { code: 2, schema: { seq: 'nat', status: { enum: REPLY_STATUSES }, output: 'output', leader: 'int' } },
} as const;

export type ClientMessage = MessagesOf<typeof CLIENT_MESSAGES>;
export type Request = Extract<ClientMessage, { type: 'request' }>;
export type Reply = Extract<ClientMessage, { type: 'reply' }>;

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
