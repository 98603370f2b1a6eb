/**
 * The torture harness's recorded workload: `clients` sessions of the real client library in this
 * process, each recording its own history file, issuing a mix of get, put, append and cas on a
 * small key space, so reads observe writes and cas sometimes swaps. Every written value is unique
 * (`<client>.<n>`), so the checker can tell which write a read saw. Multi-Paxos sessions dispatch
 * one operation at a time; MDL sessions keep up to `window` in flight (results in issue order).
 * An optional rate cap spaces out issues across all sessions (the checker's work grows faster than
 * the history); a session whose operations are slow still fills its window.
 */
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { connect, type KvClient } from '../client/client.js';
import { OperationFailedError, OutcomeUnknownError } from '../client/errors.js';
import type { ProtocolName } from '../protocol/master/messages.js';
import type { Rng } from '../protocol/common/rng.js';

export interface WorkloadOptions {
  readonly master: string;
  readonly cluster: string;
  readonly protocol: ProtocolName;
  readonly clients: number;
  /** MDL: operations each session keeps in flight. Multi-Paxos sessions ignore it (single dispatch). */
  readonly window: number;
  readonly keys: number;
  /** Operations issued per second by all sessions together, at most; 0: no cap. */
  readonly rate: number;
  /** Per operation: after this long its outcome is unknown. */
  readonly opTimeoutMs: number;
  /** Each session records `<historyDir>/<client>.jsonl`. */
  readonly historyDir: string;
  readonly rng: Rng;
}

export interface OutcomeCounts {
  ok: number;
  fail: number;
  unknown: number;
}

/** Relative weights of the operations. */
const OP_WEIGHTS = { get: 40, put: 25, append: 15, cas: 20 } as const;
/** A cas expects the value last seen for its key with this probability, else absence. */
const CAS_EXPECTS_SEEN = 0.8;

type OpName = keyof typeof OP_WEIGHTS;

function pickOp(rng: Rng): OpName {
  let x = rng.int(OP_WEIGHTS.get + OP_WEIGHTS.put + OP_WEIGHTS.append + OP_WEIGHTS.cas);
  for (const op of ['get', 'put', 'append', 'cas'] as const) {
    if (x < OP_WEIGHTS[op]) return op;
    x -= OP_WEIGHTS[op];
  }
  return 'get';
}

export class Workload {
  /** Outcomes so far (the history files have the details). */
  readonly counts: OutcomeCounts = { ok: 0, fail: 0, unknown: 0 };
  private running = true;
  private readonly loops: Promise<void>[];
  /** Per key, the value some session last wrote or read: what a cas expects (unknown after an append). */
  private readonly lastSeen = new Map<string, string | null>();
  /** A session failed in a way no operation outcome explains (a bug in the client library). */
  private failure: Error | null = null;
  /** With a rate cap: the earliest moment the next operation may be issued. */
  private nextIssueMs = 0;

  private constructor(
    private readonly opts: WorkloadOptions,
    private readonly sessions: readonly KvClient[],
  ) {
    this.loops = sessions.map((kv) => this.runSession(kv, opts.rng.fork()));
  }

  static async start(opts: WorkloadOptions): Promise<Workload> {
    const sessions: KvClient[] = [];
    try {
      for (let i = 0; i < opts.clients; i++) {
        const clientId = `c${i}`;
        sessions.push(
          await connect({
            master: opts.master,
            cluster: opts.cluster,
            clientId,
            timeoutMs: opts.opTimeoutMs,
            history: path.join(opts.historyDir, `${clientId}.jsonl`),
            ...(opts.protocol === 'mdl' ? { pipeline: opts.window } : {}),
            log: () => undefined,
          }),
        );
      }
    } catch (err) {
      await Promise.all(sessions.map((kv) => kv.close()));
      throw err;
    }
    return new Workload(opts, sessions);
  }

  /** Stops issuing, waits for what is in flight to end (within the operation timeout), and closes the sessions. */
  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
    await this.close();
    if (this.failure !== null) throw this.failure;
  }

  /** Closes every session at once: operations in flight are recorded with an unknown outcome. */
  async close(): Promise<void> {
    this.running = false;
    await Promise.all(this.sessions.map((kv) => kv.close()));
  }

  private async runSession(kv: KvClient, rng: Rng): Promise<void> {
    const window = this.opts.protocol === 'mdl' ? this.opts.window : 1;
    const inflight = new Set<Promise<void>>();
    for (let n = 0; this.running; n++) {
      await this.pace();
      if (!this.running) break;
      const op: Promise<void> = this.issue(kv, rng, n).finally(() => inflight.delete(op));
      inflight.add(op);
      if (inflight.size >= window) await Promise.race(inflight);
    }
    await Promise.all(inflight);
  }

  /** Waits for this session's turn under the rate cap (turns do not pile up while nobody takes them). */
  private async pace(): Promise<void> {
    if (this.opts.rate === 0) return;
    const now = performance.now();
    const at = Math.max(now, this.nextIssueMs);
    this.nextIssueMs = at + 1000 / this.opts.rate;
    if (at > now) await sleep(at - now);
  }

  /** Issues one operation and counts its outcome; an error that is no outcome stops the workload. */
  private async issue(kv: KvClient, rng: Rng, n: number): Promise<void> {
    const key = `k${rng.int(this.opts.keys)}`;
    const value = `${kv.clientId}.${n}`;
    try {
      switch (pickOp(rng)) {
        case 'get':
          this.lastSeen.set(key, await kv.get(key));
          break;
        case 'put':
          await kv.put(key, value);
          this.lastSeen.set(key, value);
          break;
        case 'append':
          this.lastSeen.delete(key);
          await kv.append(key, `+${value}`);
          break;
        case 'cas': {
          const expected = rng.chance(CAS_EXPECTS_SEEN) ? (this.lastSeen.get(key) ?? null) : null;
          if (await kv.cas(key, expected, value)) this.lastSeen.set(key, value);
          break;
        }
      }
      this.counts.ok++;
    } catch (err) {
      if (err instanceof OperationFailedError) this.counts.fail++;
      else if (err instanceof OutcomeUnknownError) this.counts.unknown++;
      else {
        this.failure ??= err as Error;
        this.running = false;
      }
    }
  }
}
