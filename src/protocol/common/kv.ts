/**
 * The replicated state machine: a map from string keys to string values, and the per-client
 * session table that makes a retried command execute once.
 */
import { assert } from './assert.js';

export type OpName = 'get' | 'put' | 'cas' | 'append';
export const OP_NAMES: readonly OpName[] = ['get', 'put', 'cas', 'append'];

/** What an operation returns: `get` the value (null: absent), `cas` whether it swapped, writes null. */
export type OpOutput = string | boolean | null;

/**
 * One client operation. `value` is null exactly for `get`; `expect` is used by `cas` only
 * (null: the key must be absent). (client, seq) names it uniquely across retries.
 */
export interface Command {
  client: string;
  seq: number;
  op: OpName;
  key: string;
  value: string | null;
  expect: string | null;
}

/** A reason a command is malformed, or null. The transport's schema check runs first. */
export function commandProblem(cmd: Command): string | null {
  if (cmd.op === 'get') return cmd.value === null ? null : 'get takes no value';
  if (cmd.value === null) return `${cmd.op} needs a value`;
  if (cmd.op !== 'cas' && cmd.expect !== null) return `${cmd.op} takes no expected value`;
  return null;
}

export function isWrite(op: OpName): boolean {
  return op !== 'get';
}

/**
 * A copy of s that shares no storage with the string it was cut from. A decoder may hand out
 * every string of a message as a slice of one long string (msgpackr's native string extraction
 * does), and V8 keeps that whole string alive while any slice of it lives: a stored value of 16
 * bytes would hold a batch's 20 KB. Concatenation makes a new string and slicing that one
 * flattens it into fresh storage; short strings (under 13 characters) are copied by V8 anyway.
 */
export function ownString(s: string): string {
  return (' ' + s).slice(1);
}

export class KvStore {
  private readonly data = new Map<string, string>();

  get size(): number {
    return this.data.size;
  }

  apply(cmd: Command): OpOutput {
    const { key } = cmd;
    switch (cmd.op) {
      case 'get':
        return this.data.get(key) ?? null;
      case 'put':
        assert(cmd.value !== null, 'put without a value');
        this.data.set(ownString(key), ownString(cmd.value));
        return null;
      case 'append':
        assert(cmd.value !== null, 'append without a value');
        this.data.set(ownString(key), (this.data.get(key) ?? '') + ownString(cmd.value));
        return null;
      case 'cas': {
        assert(cmd.value !== null, 'cas without a value');
        const current = this.data.get(key) ?? null;
        if (current !== cmd.expect) return false;
        this.data.set(ownString(key), ownString(cmd.value));
        return true;
      }
    }
  }

  read(key: string): string | null {
    return this.data.get(key) ?? null;
  }

  /** Entries sorted by key: a canonical form for snapshots and convergence checks. */
  entries(): [string, string][] {
    return [...this.data.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  }

  load(entries: readonly (readonly [string, string])[]): void {
    this.data.clear();
    for (const [k, v] of entries) this.data.set(k, v);
  }
}

export type SessionLookup =
  | { kind: 'new' }
  | { kind: 'done'; output: OpOutput }
  | { kind: 'failed' }
  /** Older than anything the table still remembers: it must not run again, and its result is gone. */
  | { kind: 'stale' };

const EMPTY = 0;
const DONE = 1;
const FAILED = 2;

/** The answers without an output, shared: a lookup on every command allocates nothing. */
const NEW: SessionLookup = Object.freeze({ kind: 'new' });
const FAILED_LOOKUP: SessionLookup = Object.freeze({ kind: 'failed' });
const STALE: SessionLookup = Object.freeze({ kind: 'stale' });

/**
 * One client's recent outcomes in a ring indexed by seq (a sliding window: a Map with the
 * oldest entry deleted on every insert is pathologically slow in V8). The ring starts small and
 * doubles up to the table's per-client limit; a slot is reused for seq + size only once the ring
 * is at its limit, and every seq it forgets raises `floor`.
 */
interface Session {
  /** Every seq below `floor` that is not in the ring is stale. */
  floor: number;
  seqs: number[];
  kinds: number[];
  outputs: OpOutput[];
  /** The table's operation count when this session last moved to the recent end. */
  touchedAt: number;
}

export interface SessionSnapshot {
  client: string;
  floor: number;
  results: { seq: number; output: OpOutput }[];
  failed: number[];
}

/** How many operations may pass before an active session moves to the recent end again. */
const TOUCH_EVERY_OPS = 1024;
const RING_SIZE_MIN = 8;

/**
 * client id -> recently executed sequence numbers and their results. Bounded: each client
 * keeps at most `resultsPerClientMax` outcomes (the client library keeps fewer operations than
 * that outstanding, so a forgotten one is one the client has long had an answer for), and the
 * table keeps at most `clientsMax` clients, dropping the least recently active (approximately:
 * an active session moves to the recent end at most once every TOUCH_EVERY_OPS operations, which
 * keeps the hot path free of map reshuffling). Updated only in execution order, so it is
 * identical on every replica.
 */
export class SessionTable {
  private readonly sessions = new Map<string, Session>();
  private ops = 0;
  private readonly ringSizeMax: number;

  constructor(
    readonly resultsPerClientMax: number,
    readonly clientsMax: number,
  ) {
    assert(resultsPerClientMax >= 1 && clientsMax >= 1, 'session table limits must be positive');
    let size = RING_SIZE_MIN;
    while (size < resultsPerClientMax) size *= 2;
    this.ringSizeMax = size;
  }

  lookup(client: string, seq: number): SessionLookup {
    const s = this.sessions.get(client);
    if (s === undefined) return NEW;
    const i = seq & (s.seqs.length - 1);
    if (s.seqs[i] === seq) {
      if (s.kinds[i] === FAILED) return FAILED_LOOKUP;
      if (s.kinds[i] === DONE) return { kind: 'done', output: s.outputs[i] as OpOutput };
    }
    return seq < s.floor ? STALE : NEW;
  }

  record(client: string, seq: number, output: OpOutput): void {
    this.store(this.touch(client), seq, DONE, output);
  }

  recordFailed(client: string, seq: number): void {
    this.store(this.touch(client), seq, FAILED, null);
  }

  get clientCount(): number {
    return this.sessions.size;
  }

  snapshot(): SessionSnapshot[] {
    const out: SessionSnapshot[] = [];
    for (const [client, s] of this.sessions) {
      const entries: number[] = [];
      for (let i = 0; i < s.seqs.length; i++) if (s.kinds[i] !== EMPTY) entries.push(i);
      entries.sort((a, b) => (s.seqs[a] as number) - (s.seqs[b] as number));
      const results: { seq: number; output: OpOutput }[] = [];
      const failed: number[] = [];
      for (const i of entries) {
        if (s.kinds[i] === FAILED) failed.push(s.seqs[i] as number);
        else results.push({ seq: s.seqs[i] as number, output: s.outputs[i] as OpOutput });
      }
      out.push({ client, floor: s.floor, results, failed });
    }
    return out;
  }

  load(snapshot: readonly SessionSnapshot[]): void {
    this.sessions.clear();
    for (const snap of snapshot) {
      const s = this.newSession();
      s.floor = snap.floor;
      for (const r of snap.results) this.store(s, r.seq, DONE, r.output);
      for (const seq of snap.failed) this.store(s, seq, FAILED, null);
      this.sessions.set(snap.client, s);
    }
  }

  private newSession(): Session {
    return {
      floor: 0,
      seqs: new Array<number>(RING_SIZE_MIN).fill(-1),
      kinds: new Array<number>(RING_SIZE_MIN).fill(EMPTY),
      outputs: new Array<OpOutput>(RING_SIZE_MIN).fill(null),
      touchedAt: this.ops,
    };
  }

  private touch(client: string): Session {
    this.ops++;
    let s = this.sessions.get(client);
    if (s === undefined) {
      s = this.newSession();
      if (this.sessions.size >= this.clientsMax) {
        const oldest = this.sessions.keys().next();
        if (oldest.done !== true) this.sessions.delete(oldest.value);
      }
      this.sessions.set(ownString(client), s);
    } else if (this.ops - s.touchedAt >= TOUCH_EVERY_OPS) {
      this.sessions.delete(client);
      this.sessions.set(ownString(client), s);
      s.touchedAt = this.ops;
    }
    return s;
  }

  private store(s: Session, seq: number, kind: number, output: OpOutput): void {
    for (;;) {
      const size = s.seqs.length;
      const i = seq & (size - 1);
      const held = s.seqs[i] as number;
      if (s.kinds[i] === EMPTY || held === seq) {
        s.seqs[i] = seq;
        s.kinds[i] = kind;
        s.outputs[i] = output;
        return;
      }
      if (size < this.ringSizeMax) {
        this.grow(s);
        continue;
      }
      if (held > seq) return; // older than the whole window: the client gave up on it long ago
      s.seqs[i] = seq;
      s.kinds[i] = kind;
      s.outputs[i] = output;
      if (held + 1 > s.floor) s.floor = held + 1;
      return;
    }
  }

  private grow(s: Session): void {
    const { seqs, kinds, outputs } = s;
    const size = seqs.length * 2;
    s.seqs = new Array<number>(size).fill(-1);
    s.kinds = new Array<number>(size).fill(EMPTY);
    s.outputs = new Array<OpOutput>(size).fill(null);
    for (let i = 0; i < seqs.length; i++) {
      if (kinds[i] === EMPTY) continue;
      const j = (seqs[i] as number) & (size - 1);
      s.seqs[j] = seqs[i] as number;
      s.kinds[j] = kinds[i] as number;
      s.outputs[j] = outputs[i] as OpOutput;
    }
  }
}

/** An operation as an application issues it, before the client library names it. */
export type OpInput = Omit<Command, 'client' | 'seq'>;
