/**
 * The messages and log records of the replicated log every shard runs (Multi-Paxos, PROTOCOLS.md
 * §3), generic over what a slot holds (`V`) and what a snapshot holds (`S`). Multi-Paxos slots hold
 * a batch of client commands; MDL slots hold batches of pending, ordered and failed operations.
 * `paxosTables` builds the wire schemas for a given value and state schema; the hand-written types
 * below are what the engine is typed against, and each protocol checks at compile time that its
 * tables infer to exactly these types.
 *
 * Slots count from 0; `committedUpTo` is an exclusive bound: every slot below it is known chosen by
 * the sender. Ballots are `round * BALLOT_REPLICAS_MAX + replicaId`, so each is owned by one replica.
 */
import type { Field } from './schema.js';

export const BALLOT_REPLICAS_MAX = 256;

export interface Entry<V> {
  slot: number;
  ballot: number;
  value: V;
}

export type PaxosMessage<V, S> =
  /** Leader candidate → all: promise me every slot from `fromSlot` on ("to infinity"). */
  | { type: 'prepare'; ballot: number; fromSlot: number }
  /**
   * Follower → candidate. ok: the accepted entries from `fromSlot` on, at most a bounded number per
   * reply (`more`: ask again from `nextSlot`). `logBase` is the first slot the follower still holds
   * (earlier ones live only in its snapshot). Not ok: `promised` names the higher ballot.
   */
  | {
      type: 'prepareReply';
      ballot: number;
      ok: boolean;
      promised: number;
      fromSlot: number;
      entries: Entry<V>[];
      more: boolean;
      nextSlot: number;
      logBase: number;
      committedUpTo: number;
    }
  /** Leader → followers: accept `value` in `slot`. Carries the leader's commit point. */
  | { type: 'accept'; ballot: number; slot: number; value: V; committedUpTo: number }
  | { type: 'acceptReply'; ballot: number; slot: number; ok: boolean; promised: number; committedUpTo: number }
  /** The chosen value of a slot, for a replica that may not hold it. */
  | { type: 'commit'; ballot: number; slot: number; value: V }
  /** The slot is chosen with the value accepted at `ballot`, which has `count` items. */
  | { type: 'commitShort'; ballot: number; slot: number; count: number }
  /** Leader → followers when idle: I am alive, and this is my commit point. */
  | { type: 'heartbeat'; ballot: number; committedUpTo: number }
  | { type: 'heartbeatReply'; ballot: number; ok: boolean; promised: number; committedUpTo: number }
  /** A replica lacks the chosen values of [fromSlot, toSlot): send them as commits (or a snapshot). */
  | { type: 'fetch'; fromSlot: number; toSlot: number }
  /** The executed state below `upTo`, for a replica that needs slots the sender no longer holds. */
  | { type: 'snapshot'; upTo: number; state: S };

export type PaxosRecord<V, S> =
  /** Never take part in a ballot below this one again. */
  | { type: 'promise'; ballot: number }
  /**
   * Accepted `value` in `slot` at `ballot` (implies a promise of `ballot`). It is the Accept
   * message itself, same code and fields (`committedUpTo`, the leader's commit point then, is not
   * needed on restart): a replica logs the very object it sends or received, and the codec
   * encodes it once (see `MessageCodec`).
   */
  | Extract<PaxosMessage<V, S>, { type: 'accept' }>
  /** The value accepted at `ballot` in `slot` is chosen. Not synced on its own: it can be relearned. */
  | { type: 'commit'; slot: number; ballot: number }
  /** Every slot below `upTo` is executed into `state`; earlier records are no longer needed. */
  | { type: 'snapshot'; upTo: number; state: S };

/**
 * Wire codes 30..39 for log messages; a cluster runs one protocol, so protocols may share them.
 * The accept record shares the Accept message's code and schema (see `PaxosRecord`).
 */
export function paxosTables<VF extends Field, SF extends Field>(value: VF, state: SF) {
  const entry = { obj: { slot: 'nat', ballot: 'nat', value } } as const;
  const accept = { code: 32, schema: { ballot: 'nat', slot: 'nat', value, committedUpTo: 'nat' } } as const;
  return {
    messages: {
      prepare: { code: 30, schema: { ballot: 'nat', fromSlot: 'nat' } },
      prepareReply: {
        code: 31,
        schema: {
          ballot: 'nat',
          ok: 'bool',
          promised: 'nat',
          fromSlot: 'nat',
          entries: { arr: entry },
          more: 'bool',
          nextSlot: 'nat',
          logBase: 'nat',
          committedUpTo: 'nat',
        },
      },
      accept,
      acceptReply: {
        code: 33,
        schema: { ballot: 'nat', slot: 'nat', ok: 'bool', promised: 'nat', committedUpTo: 'nat' },
      },
      commit: { code: 34, schema: { ballot: 'nat', slot: 'nat', value } },
      commitShort: { code: 35, schema: { ballot: 'nat', slot: 'nat', count: 'nat' } },
      heartbeat: { code: 36, schema: { ballot: 'nat', committedUpTo: 'nat' } },
      heartbeatReply: { code: 37, schema: { ballot: 'nat', ok: 'bool', promised: 'nat', committedUpTo: 'nat' } },
      fetch: { code: 38, schema: { fromSlot: 'nat', toSlot: 'nat' } },
      snapshot: { code: 39, schema: { upTo: 'nat', state } },
    },
    records: {
      promise: { code: 1, schema: { ballot: 'nat' } },
      accept,
      commit: { code: 3, schema: { slot: 'nat', ballot: 'nat' } },
      snapshot: { code: 4, schema: { upTo: 'nat', state } },
    },
  } as const;
}

/** Compile-time proof that two types are the same: `const _: Same<A, B> = true`. */
export type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
