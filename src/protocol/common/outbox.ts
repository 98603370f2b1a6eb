import type { Address, Output, Phase } from './core.js';

/** Most calls into a core output nothing: they all return this list, which nobody may change. */
const NONE: never[] = Object.freeze([]) as never[];

/** Collects a core's outputs in order during one call; the host takes them all at the end. */
export class Outbox<M, R> {
  private items: Output<M, R>[] = [];

  send(to: Address, msg: M): void {
    this.items.push({ type: 'send', to, msg });
  }

  /**
   * A send that depends only on what a quorum has made durable (a chosen slot), not on this
   * replica's own disk: it need not wait for a sync. With a quorum of one this replica's disk is
   * the quorum, so the caller passes `solo` and the send waits like any other.
   */
  sendChosen(to: Address, msg: M, solo: boolean): void {
    this.items.push(solo ? { type: 'send', to, msg } : { type: 'send', to, msg, independent: true });
  }

  /** `lazy`: the record can be relearned, so no send needs to wait until it is durable. */
  persist(record: R, lazy = false): void {
    this.items.push({ type: 'persist', record, lazy });
  }

  observe(phase: Phase, client: string, seq: number): void {
    this.items.push({ type: 'observe', phase, client, seq });
  }

  /** The outputs so far, in order (a shared frozen empty list when there are none). */
  take(): Output<M, R>[] {
    const items = this.items;
    if (items.length === 0) return NONE;
    this.items = [];
    return items;
  }
}
