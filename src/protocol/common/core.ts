/**
 * The contract between a protocol core and whatever hosts it (the runtime on a real machine,
 * or the simulator). A core is a pure state machine: it never touches sockets, timers, clocks,
 * randomness or disks. The host feeds it messages (`step`), the passage of time (`tick`) and the
 * end of an input burst (`flush`); each call returns outputs that the host carries out in order.
 *
 * Ordering rule every host must keep: a `send` leaves only after every `persist` output before it
 * (in the same list or an earlier one) is durable, because votes and acknowledgements depend on
 * it. Hosts keep one FIFO of outputs: a send never overtakes an earlier send that is waiting for
 * a sync. A `lazy` persist is a record that can be relearned (a commit mark): it is written in
 * order with the others, but no send waits for it to be durable. An `independent` send carries
 * nothing that depends on this replica's disk (a reply about a chosen slot, a coordination reply,
 * a commit notice): it leaves at once, even ahead of sends waiting for a sync.
 */
import type { OpInput } from './kv.js';

/**
 * The phases an MDL leader moves an operation through (PROTOCOLS.md §5), observed for latency
 * breakdowns: arrived, committed (round 1 chosen), coordinated (its predecessor's timestamp
 * known), appended (its order item proposed), executed (that item chosen and executed).
 */
export type Phase = 'arrived' | 'committed' | 'coordinated' | 'appended' | 'executed';

/** A replica of a shard. Replica ids are 0..replicas-1 within their shard. */
export interface ReplicaAddr {
  readonly kind: 'replica';
  readonly shard: number;
  readonly replica: number;
}

/** One client library session, named by its client id. */
export interface ClientAddr {
  readonly kind: 'client';
  readonly client: string;
}

/** Whoever currently leads `shard`; the host resolves it from the shard map it learned. */
export interface LeaderAddr {
  readonly kind: 'leader';
  readonly shard: number;
}

export type Address = ReplicaAddr | ClientAddr | LeaderAddr;
export type Sender = ReplicaAddr | ClientAddr;

export type Output<M, R> =
  | { readonly type: 'send'; readonly to: Address; readonly msg: M; readonly independent?: boolean }
  /** Nothing to do: an operation reached a phase. The host may timestamp it (cores have no clock). */
  | { readonly type: 'observe'; readonly phase: Phase; readonly client: string; readonly seq: number }
  | { readonly type: 'persist'; readonly record: R; readonly lazy: boolean };

export interface Core<M, R> {
  step(from: Sender, msg: M): Output<M, R>[];
  tick(): Output<M, R>[];
  /** The host has no more input queued right now: close open batches. */
  flush(): Output<M, R>[];
}

export function replicaAddr(shard: number, replica: number): ReplicaAddr {
  return { kind: 'replica', shard, replica };
}

export function clientAddr(client: string): ClientAddr {
  return { kind: 'client', client };
}

export function addrKey(a: Address): string {
  switch (a.kind) {
    case 'replica':
      return `r${a.shard}.${a.replica}`;
    case 'client':
      return `c:${a.client}`;
    case 'leader':
      return `l${a.shard}`;
  }
}

/** A set of replica ids that reached some agreement: duplicates never count twice. */
export class Quorum {
  private readonly ids = new Set<number>();

  constructor(readonly size: number) {}

  add(id: number): boolean {
    this.ids.add(id);
    return this.reached;
  }

  has(id: number): boolean {
    return this.ids.has(id);
  }

  get reached(): boolean {
    return this.ids.size >= this.size;
  }

  get count(): number {
    return this.ids.size;
  }
}

export function majority(replicas: number): number {
  return Math.floor(replicas / 2) + 1;
}

/** What a replica core reports about itself to its host (for the master, the simulator and tests). */
export interface ReplicaStatus {
  readonly role: 'leader' | 'follower' | 'candidate';
  /** The ballot it leads with, or the highest it has promised. */
  readonly ballot: number;
  /** Who it believes leads its shard (-1: unknown). */
  readonly leader: number;
  /** Slots (or log positions) executed so far. */
  readonly executed: number;
}

/** A replica core: a core that can report its status and check its own invariants. */
export interface ReplicaCore<M, R> extends Core<M, R> {
  status(): ReplicaStatus;
  /** Throws an AssertionError if an internal invariant does not hold. Cheap enough to run after every step in tests. */
  checkInvariants(): void;
  /** The executed state, canonically ordered, for convergence checks. */
  stateDigest(): { executed: number; entries: [string, string][] };
}

/** How an operation ended, as the client library reports it (HISTORY.md statuses). */
export type Completion =
  | { readonly seq: number; readonly status: 'ok'; readonly output: string | boolean | null }
  | { readonly seq: number; readonly status: 'fail' | 'unknown'; readonly error: string };

/** A client library session's core: the routing, retry and ordering logic, without I/O. */
export interface ClientCore<M> extends Core<M, never> {
  /** Issue an operation; returns its sequence number (issue order) and what to send now. */
  submit(op: OpInput): { seq: number; outputs: Output<M, never>[] };
  /** Operations that finished since the last call, in the order their results may be delivered. */
  takeCompletions(): Completion[];
  /** Operations submitted and not yet completed. */
  readonly outstanding: number;
}
