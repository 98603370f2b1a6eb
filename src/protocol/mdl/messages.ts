/**
 * MDL across shards (PROTOCOLS.md §5). Each shard runs the replicated log of common/paxos.ts;
 * its slots hold batches of items: `pending` (round 1: the operation is durable and will be
 * executed unless it fails), `order` (round 2: the operation takes its place in the shard's
 * order, with its timestamp), `fail` (the operation never takes effect), and the two markers of
 * a leader's recovery, `hold` and `recover` (see replica.ts for the argument).
 */
import type { Infer, MessagesOf } from '../common/schema.js';
import { CLIENT_MESSAGES, COMMAND_SCHEMA } from '../common/messages.js';
import { paxosTables, type PaxosMessage, type PaxosRecord, type Same } from '../common/paxosmsg.js';
import { SESSION_SCHEMA } from '../multipaxos/messages.js';

export const ITEM_KINDS = ['pending', 'order', 'fail', 'hold', 'recover'] as const;

const ITEM_SCHEMA = {
  kind: { enum: ITEM_KINDS },
  client: 'str',
  seq: 'nat',
  /** `order`: the operation's timestamp. */
  ts: 'nat',
  /** `pending`: where the client's previous operation went (-1: it had none). */
  predShard: 'int',
  predSeq: 'int',
  /** `pending`, and `order` on the fast path (no predecessor, no pending round); else null. */
  cmd: { nullable: { obj: COMMAND_SCHEMA } },
  /**
   * The ballot of the leader that decided this item. A slot can be chosen long after its leader
   * lost office (Paxos may re-propose any value a quorum member still holds), so the state machine
   * uses this to tell a stale decision from a current one.
   */
  ballot: 'nat',
} as const;

export type MdlItem = Infer<typeof ITEM_SCHEMA>;

const STATE_SCHEMA = {
  kv: { arr: { obj: { key: 'str', value: 'str' } } },
  sessions: { arr: SESSION_SCHEMA },
  committed: { arr: { obj: { cmd: { obj: COMMAND_SCHEMA }, predShard: 'int', predSeq: 'int', ballot: 'nat' } } },
  holding: 'bool',
  buffer: { arr: { obj: ITEM_SCHEMA } },
  maxTs: 'nat',
  executedTs: 'nat',
  recentTs: { arr: { obj: { client: 'str', seq: 'nat', ts: 'nat' } } },
} as const;

export type MdlState = Infer<typeof STATE_SCHEMA>;

const TABLES = paxosTables({ arr: { obj: ITEM_SCHEMA } }, { obj: STATE_SCHEMA });

export const MDL_MESSAGES = {
  ...TABLES.messages,
  /** Client → shard leader: an operation, and where the client's previous outstanding one went. */
  mdlRequest: { code: 60, schema: { cmd: { obj: COMMAND_SCHEMA }, predShard: 'int', predSeq: 'int' } },
  /**
   * Coordination request (CR), to the leader of the predecessor's shard: tell the leader of
   * `succShard` when (client, seq) has its timestamp, or that it failed.
   */
  coordRequest: { code: 61, schema: { client: 'str', seq: 'nat', succShard: 'nat', succSeq: 'nat' } },
  /** Coordination reply (CRR), to the leader of the successor's shard. */
  coordReply: { code: 62, schema: { client: 'str', seq: 'nat', succSeq: 'nat', ok: 'bool', ts: 'nat' } },
} as const;

export const MDL_RECORDS = TABLES.records;

export type MdlLogMessage = PaxosMessage<MdlItem[], MdlState>;
export type MdlRecord = PaxosRecord<MdlItem[], MdlState>;
export type MdlMessage = MessagesOf<typeof MDL_MESSAGES>;

export const MDL_TABLES_MATCH_TYPES: [
  Same<MessagesOf<typeof TABLES.messages>, MdlLogMessage>,
  Same<MessagesOf<typeof MDL_RECORDS>, MdlRecord>,
] = [true, true];

/** What an MDL replica core handles: client requests and replies, coordination and log messages. */
export type MdlWire = MessagesOf<typeof CLIENT_MESSAGES> | MdlMessage;
