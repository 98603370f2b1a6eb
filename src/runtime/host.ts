/**
 * Hosts one replica core in a process: ticks from one interval timer, input from whoever calls
 * `step`, `flush` once at the end of each input burst (one `setImmediate` per burst, which runs
 * after every message already received in this event-loop turn), and the core's outputs carried out
 * strictly in order under the host rule of core.ts:
 *
 *   a send leaves only after every persist output before it (in the same list or an earlier
 *   one) is durable; sends are FIFO and never overtake an earlier send waiting for a sync.
 *
 * Kept with counters: records appended, records durable, and the append count sends must wait for
 * (lazy records, which can be relearned, do not raise it). A send that finds required records not
 * yet durable (or an earlier send still waiting) waits in a FIFO, remembering the count it needs. Group commit: at most one durability operation is in flight, started at the end of the
 * turn and covering everything appended so far; when it completes the sends it covers leave, and
 * the next one starts if more was appended meanwhile. When the log has grown past
 * `walCompactBytes` (and past twice its size after the last compaction, so a large snapshot does
 * not make every operation a rewrite), that operation is a rewrite from `compactRecords()`
 * instead of a sync: the compacted records stand for everything appended so far, so it makes all
 * of them durable; records appended while it runs follow them in the new file.
 *
 * Without fsync (`wal.fsync` false) the log still writes every record, but sends do not wait:
 * a crash of the machine (not of the process) can lose acknowledged writes.
 */
import { assert } from '../protocol/common/assert.js';
import type { Address, Output, Phase, ReplicaCore, Sender } from '../protocol/common/core.js';
import type { Wal } from '../storage/wal.js';
import type { Message } from '../transport/codec.js';

/** A replica core as the runtime needs it: it can also shrink its log to a snapshot. */
export interface HostedCore<M, R> extends ReplicaCore<M, R> {
  /** The smallest list of records equivalent to everything persisted so far. */
  compactRecords(): R[];
}

export interface HostOptions<M, R extends Message> {
  readonly core: HostedCore<M, R>;
  readonly wal: Wal<R>;
  /** Hands a message to the network (called in output order). */
  readonly deliver: (to: Address, msg: M) => void;
  readonly tickMs: number;
  readonly walCompactBytes: number;
  /** The log failed: the process must stop (the kernel may have dropped what it said it had). */
  readonly onFatal: (err: Error) => void;
  /** Called after each tick and each input burst, once its outputs are handled. */
  readonly afterTurn?: () => void;
  /** Called for each phase an operation reaches (MDL latency breakdowns). */
  readonly observe?: (phase: Phase, client: string, seq: number) => void;
  /** Runs the core's invariant checks after every call (tests). */
  readonly checkInvariants?: boolean;
}

interface WaitingSend<M> {
  /** The number of records that must be durable before it leaves. */
  readonly needs: number;
  readonly to: Address;
  readonly msg: M;
}

export class ReplicaHost<M, R extends Message> {
  private appended = 0;
  /** Records that sends wait for: everything up to the last one that is not lazy. */
  private required = 0;
  private durable = 0;
  private readonly waiting: WaitingSend<M>[] = [];
  private waitingHead = 0;
  private durabilityInFlight: Promise<void> | null = null;
  private burstScheduled = false;
  private ticker: NodeJS.Timeout | null = null;
  private stopped = false;
  private compactions = 0;
  /** The log's size right after the last compaction: the next one waits until it has doubled. */
  private compactedBytes = 0;

  constructor(private readonly opts: HostOptions<M, R>) {
    assert(opts.tickMs >= 1 && opts.walCompactBytes >= 1, 'host limits must be positive');
  }

  /** Starts the tick timer. */
  start(): void {
    assert(this.ticker === null && !this.stopped, 'start once');
    this.ticker = setInterval(() => this.onTick(), this.opts.tickMs);
  }

  /** Feeds one input message to the core; the burst it belongs to is flushed at the end of the turn. */
  step(from: Sender, msg: M): void {
    if (this.stopped) return;
    this.handle(this.opts.core.step(from, msg));
    this.scheduleEndOfBurst();
  }

  /** Records appended to the log so far, and how many of them are durable. */
  get counters(): { appended: number; durable: number; waitingSends: number; compactions: number } {
    return {
      appended: this.appended,
      durable: this.durable,
      waitingSends: this.waiting.length - this.waitingHead,
      compactions: this.compactions,
    };
  }

  /** Stops ticking and taking input, and waits for the durability operation in flight. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.ticker !== null) clearInterval(this.ticker);
    this.ticker = null;
    await this.durabilityInFlight?.catch(() => undefined);
  }

  /**
   * A tick is not input, so it closes no batch: its outputs are carried out and the log synced at
   * once, without the end-of-burst pass (which would double the work of an idle replica).
   */
  private onTick(): void {
    if (this.stopped) return;
    const outputs = this.opts.core.tick();
    if (outputs.length > 0) this.handle(outputs);
    // Lazy records (commit marks) reach the disk here at the latest, without a sync of their own
    // on the path of any reply.
    this.startDurability(true);
    this.opts.afterTurn?.();
  }

  /** After every input already queued in this turn was stepped: close batches, then sync. */
  private scheduleEndOfBurst(): void {
    if (this.burstScheduled) return;
    this.burstScheduled = true;
    setImmediate(() => {
      this.burstScheduled = false;
      if (this.stopped) return;
      this.handle(this.opts.core.flush());
      this.startDurability(false);
      this.opts.afterTurn?.();
    });
  }

  private handle(outputs: Output<M, R>[]): void {
    if (this.opts.checkInvariants === true) this.opts.core.checkInvariants();
    const fsync = this.opts.wal.fsync;
    for (const out of outputs) {
      if (out.type === 'observe') {
        this.opts.observe?.(out.phase, out.client, out.seq);
      } else if (out.type === 'persist') {
        this.opts.wal.append(out.record);
        this.appended++;
        if (!out.lazy) this.required = this.appended;
      } else if (!fsync || out.independent === true || (this.required <= this.durable && this.waitingHead === this.waiting.length)) {
        this.opts.deliver(out.to, out.msg);
      } else {
        this.waiting.push({ needs: this.required, to: out.to, msg: out.msg });
      }
    }
  }

  /** Starts a sync if a send waits for one (or, with `lazyToo`, if anything at all is unwritten). */
  private startDurability(lazyToo: boolean): void {
    if (this.durabilityInFlight !== null || this.stopped) return;
    if (lazyToo ? this.appended === this.durable : this.required <= this.durable) return;
    const target = this.appended;
    const wal = this.opts.wal;
    let operation: Promise<void>;
    if (wal.bytes >= Math.max(this.opts.walCompactBytes, 2 * this.compactedBytes)) {
      this.compactions++;
      operation = wal.rewrite(this.opts.core.compactRecords()).then(() => {
        this.compactedBytes = wal.bytes;
      });
    } else {
      operation = wal.sync();
    }
    this.durabilityInFlight = operation.then(
      () => {
        this.durabilityInFlight = null;
        this.durable = target;
        this.release();
        this.startDurability(false);
      },
      (err: unknown) => {
        this.stopped = true;
        if (this.ticker !== null) clearInterval(this.ticker);
        this.opts.onFatal(err instanceof Error ? err : new Error(String(err)));
      },
    );
  }

  private release(): void {
    while (this.waitingHead < this.waiting.length) {
      const w = this.waiting[this.waitingHead] as WaitingSend<M>;
      if (w.needs > this.durable) break;
      this.waitingHead++;
      this.opts.deliver(w.to, w.msg);
    }
    if (this.waitingHead === this.waiting.length) {
      this.waiting.length = 0;
      this.waitingHead = 0;
    } else if (this.waitingHead > 1024 && this.waitingHead * 2 > this.waiting.length) {
      // Under steady load the queue never empties: drop the released prefix now and then.
      this.waiting.splice(0, this.waitingHead);
      this.waitingHead = 0;
    }
  }
}
