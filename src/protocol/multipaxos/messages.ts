/**
 * Multi-Paxos (PROTOCOLS.md §3): each slot of a shard's log holds a batch of client commands, and
 * a snapshot holds the key-value map and the session table.
 */
import type { MessagesOf } from '../common/schema.js';
import type { Command, SessionSnapshot } from '../common/kv.js';
import { COMMAND_SCHEMA } from '../common/messages.js';
import { paxosTables, type PaxosMessage, type PaxosRecord, type Same } from '../common/paxosmsg.js';

export const SESSION_SCHEMA = {
  obj: {
    client: 'str',
    floor: 'nat',
    results: { arr: { obj: { seq: 'nat', output: 'output' } } },
    failed: { arr: 'nat' },
  },
} as const;

export const KV_STATE_SCHEMA = {
  kv: { arr: { obj: { key: 'str', value: 'str' } } },
  sessions: { arr: SESSION_SCHEMA },
} as const;

export interface KvState {
  kv: { key: string; value: string }[];
  sessions: SessionSnapshot[];
}

const TABLES = paxosTables({ arr: { obj: COMMAND_SCHEMA } }, { obj: KV_STATE_SCHEMA });
export const MP_MESSAGES = TABLES.messages;
export const MP_RECORDS = TABLES.records;

export type MultiPaxosMessage = PaxosMessage<Command[], KvState>;
export type MultiPaxosRecord = PaxosRecord<Command[], KvState>;

export const MP_TABLES_MATCH_TYPES: [
  Same<MessagesOf<typeof MP_MESSAGES>, MultiPaxosMessage>,
  Same<MessagesOf<typeof MP_RECORDS>, MultiPaxosRecord>,
] = [true, true];
