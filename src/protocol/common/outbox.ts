import type { Address, Output } from './core.js';

/** Collects a core's outputs in order during one call; the host takes them all at the end. */
export class Outbox<M, R> {
  private items: Output<M, R>[] = [];

  send(to: Address, msg: M): void {
    this.items.push({ type: 'send', to, msg });
  }

  persist(record: R): void {
    this.items.push({ type: 'persist', record });
  }

  take(): Output<M, R>[] {
    const items = this.items;
    this.items = [];
    return items;
  }
}
