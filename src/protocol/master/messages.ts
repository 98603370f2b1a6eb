/**
 * Messages between the master (PROTOCOLS.md §6) and replicas or clients. The master is metadata
 * only: it is never on the path of an operation.
 */
import type { Infer, MessagesOf } from '../common/schema.js';

export const PROTOCOL_NAMES = ['paxos', 'mdl', 'epaxos'] as const;
export type ProtocolName = (typeof PROTOCOL_NAMES)[number];
export const ROLES = ['leader', 'follower', 'candidate', 'down'] as const;
export type Role = (typeof ROLES)[number];

const REPLICA_INFO = {
  shard: 'nat',
  replica: 'nat',
  address: 'str',
  pid: 'nat',
  role: { enum: ROLES },
  ballot: 'nat',
  /** Milliseconds since the master last heard from it (-1: never). */
  heardMsAgo: 'int',
} as const;

const LEADER_INFO = { shard: 'nat', leader: 'int', ballot: 'nat' } as const;

export const SHARD_MAP_SCHEMA = {
  cluster: 'str',
  protocol: { enum: PROTOCOL_NAMES },
  shards: 'nat',
  replicasPerShard: 'nat',
  /** Bumped whenever anything in the map changes, so a stale copy can be recognised. */
  version: 'nat',
  replicas: { arr: { obj: REPLICA_INFO } },
  leaders: { arr: { obj: LEADER_INFO } },
} as const;

export type ShardMap = Infer<typeof SHARD_MAP_SCHEMA>;
export type ReplicaInfo = Infer<typeof REPLICA_INFO>;

export const MASTER_MESSAGES = {
  /** Replica → master on start, and again whenever the master does not know it. */
  register: {
    code: 10,
    schema: { shard: 'nat', replica: 'nat', address: 'str', pid: 'nat', protocol: { enum: PROTOCOL_NAMES } },
  },
  /** `error` is empty when registration succeeded. */
  registerReply: { code: 11, schema: { error: 'str', map: { obj: SHARD_MAP_SCHEMA } } },
  /** Replica → master, periodically: its role and ballot, and the map version it holds. */
  heartbeat: {
    code: 12,
    schema: { shard: 'nat', replica: 'nat', role: { enum: ROLES }, ballot: 'nat', leader: 'int', mapVersion: 'nat' },
  },
  /**
   * Master → replica; `known` false asks the replica to register again. `map` is null when the
   * replica already holds the current version (an idle cluster's heartbeats stay small).
   */
  heartbeatReply: { code: 13, schema: { known: 'bool', map: { nullable: { obj: SHARD_MAP_SCHEMA } } } },
  /** Client → master. */
  getMap: { code: 14, schema: {} },
  map: { code: 15, schema: { map: { obj: SHARD_MAP_SCHEMA } } },
} as const;

export type MasterMessage = MessagesOf<typeof MASTER_MESSAGES>;
