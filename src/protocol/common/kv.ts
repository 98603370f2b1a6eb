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
        this.data.set(key, cmd.value);
        return null;
      case 'append':
        assert(cmd.value !== null, 'append without a value');
        this.data.set(key, (this.data.get(key) ?? '') + cmd.value);
        return null;
      case 'cas': {
        assert(cmd.value !== null, 'cas without a value');
        const current = this.data.get(key) ?? null;
        if (current !== cmd.expect) return false;
        this.data.set(key, cmd.value);
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

interface Session {
  /** Every seq below `floor` that is not in `results` or `failed` is stale. */
  floor: number;
  /** Results of recently executed commands, in execution order (oldest first). */
  results: Map<number, OpOutput>;
  /** Commands that definitely failed (MDL): they must never run, even when a copy arrives late. */
  failed: Set<number>;
}

export interface SessionSnapshot {
  client: string;
  floor: number;
  results: { seq: number; output: OpOutput }[];
  failed: number[];
}

/**
 * client id -> recently executed sequence numbers and their results. Bounded: each client
 * keeps at most `resultsPerClientMax` results (the client library keeps fewer operations than
 * that outstanding, so an evicted entry is one the client has long had an answer for), and the
 * table keeps at most `clientsMax` clients, dropping the least recently active. Updated only in
 * execution order, so it is identical on every replica.
 */
export class SessionTable {
  private readonly sessions = new Map<string, Session>();

  constructor(
    readonly resultsPerClientMax: number,
    readonly clientsMax: number,
  ) {
    assert(resultsPerClientMax >= 1 && clientsMax >= 1, 'session table limits must be positive');
  }

  lookup(client: string, seq: number): SessionLookup {
    const s = this.sessions.get(client);
    if (s === undefined) return { kind: 'new' };
    if (s.failed.has(seq)) return { kind: 'failed' };
    const output = s.results.get(seq);
    if (output !== undefined) return { kind: 'done', output };
    return seq < s.floor ? { kind: 'stale' } : { kind: 'new' };
  }

  record(client: string, seq: number, output: OpOutput): void {
    const s = this.touch(client);
    s.results.set(seq, output);
    while (s.results.size + s.failed.size > this.resultsPerClientMax) this.evictOldest(s);
  }

  recordFailed(client: string, seq: number): void {
    const s = this.touch(client);
    s.failed.add(seq);
    while (s.results.size + s.failed.size > this.resultsPerClientMax) this.evictOldest(s);
  }

  get clientCount(): number {
    return this.sessions.size;
  }

  snapshot(): SessionSnapshot[] {
    return [...this.sessions.entries()].map(([client, s]) => ({
      client,
      floor: s.floor,
      results: [...s.results.entries()].map(([seq, output]) => ({ seq, output })),
      failed: [...s.failed],
    }));
  }

  load(snapshot: readonly SessionSnapshot[]): void {
    this.sessions.clear();
    for (const s of snapshot) {
      this.sessions.set(s.client, {
        floor: s.floor,
        results: new Map(s.results.map((r) => [r.seq, r.output])),
        failed: new Set(s.failed),
      });
    }
  }

  private touch(client: string): Session {
    let s = this.sessions.get(client);
    if (s === undefined) {
      s = { floor: 0, results: new Map(), failed: new Set() };
      if (this.sessions.size >= this.clientsMax) {
        const oldest = this.sessions.keys().next();
        if (oldest.done !== true) this.sessions.delete(oldest.value);
      }
    } else {
      this.sessions.delete(client);
    }
    this.sessions.set(client, s);
    return s;
  }

  private evictOldest(s: Session): void {
    const first = s.results.keys().next();
    let seq: number;
    if (first.done !== true && (s.failed.size === 0 || s.results.size > 0)) {
      seq = first.value;
      s.results.delete(seq);
    } else {
      seq = Math.min(...s.failed);
      s.failed.delete(seq);
    }
    if (seq + 1 > s.floor) s.floor = seq + 1;
  }
}

/** An operation as an application issues it, before the client library names it. */
export type OpInput = Omit<Command, 'client' | 'seq'>;
