/**
 * Times the phases of the operations an MDL leader handles (the core reports each phase as an
 * `observe` output; cores have no clock, so the host stamps them). Per operation it keeps the
 * stamps until the operation executes, then records four durations; at most `opsMax` operations
 * are tracked at once (the oldest are dropped), so memory stays bounded.
 */
import type { Phase } from '../protocol/common/core.js';
import { LatencyRecorder } from '../bench/stats.js';

interface Stamps {
  arrived: number;
  committed: number;
  coordinated: number;
  appended: number;
}

export interface PhaseMedians {
  count: number;
  pending: number;
  committed: number;
  coordinated: number;
  ordered: number;
}

export class PhaseTimer {
  private readonly ops = new Map<string, Stamps>();
  private pending = new LatencyRecorder();
  private committed = new LatencyRecorder();
  private coordinated = new LatencyRecorder();
  private ordered = new LatencyRecorder();

  constructor(
    private readonly opsMax: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  observe(phase: Phase, client: string, seq: number): void {
    const id = `${client}\u0000${seq}`;
    const t = this.now();
    if (phase === 'arrived') {
      this.ops.set(id, { arrived: t, committed: -1, coordinated: -1, appended: -1 });
      if (this.ops.size > this.opsMax) {
        const oldest = this.ops.keys().next();
        if (oldest.done !== true) this.ops.delete(oldest.value);
      }
      return;
    }
    const s = this.ops.get(id);
    if (s === undefined) return;
    if (phase !== 'executed') {
      s[phase] = t;
      return;
    }
    this.ops.delete(id);
    if (s.committed < 0 || s.coordinated < 0 || s.appended < 0) return;
    this.pending.record(s.committed - s.arrived);
    this.committed.record(Math.max(0, s.coordinated - s.committed));
    this.coordinated.record(Math.max(0, s.appended - Math.max(s.committed, s.coordinated)));
    this.ordered.record(t - s.appended);
  }

  medians(): PhaseMedians {
    return {
      count: this.ordered.count,
      pending: this.pending.percentile(50),
      committed: this.committed.percentile(50),
      coordinated: this.coordinated.percentile(50),
      ordered: this.ordered.percentile(50),
    };
  }

  reset(): void {
    this.pending = new LatencyRecorder();
    this.committed = new LatencyRecorder();
    this.coordinated = new LatencyRecorder();
    this.ordered = new LatencyRecorder();
  }
}
