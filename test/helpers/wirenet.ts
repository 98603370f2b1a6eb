/**
 * A minimal synchronous network for step-level tests: outputs are delivered in FIFO order until
 * nothing is left, persists are kept per replica, and tests can drop or hold messages by filter.
 * Scenario tests use the deterministic simulator instead.
 */
import type { Address, Output, ReplicaCore, Sender } from '../../src/protocol/common/core.js';
import { addrKey } from '../../src/protocol/common/core.js';
import type { ClientMessage, Reply } from '../../src/protocol/common/messages.js';

export interface Delivery<M> {
  from: Sender;
  to: Address;
  msg: M;
}

export class WireNet<M extends { type: string }, R> {
  readonly queue: Delivery<M>[] = [];
  readonly toClients: Delivery<M>[] = [];
  readonly disk = new Map<number, R[]>();
  drop: (d: Delivery<M>) => boolean = () => false;

  constructor(readonly replicas: ReplicaCore<M, R>[]) {}

  take(replica: number, outputs: Output<M, R>[]): void {
    const from: Sender = { kind: 'replica', shard: 0, replica };
    for (const o of outputs) {
      if (o.type === 'observe') continue;
      if (o.type === 'persist') {
        const d = this.disk.get(replica) ?? [];
        d.push(o.record);
        this.disk.set(replica, d);
      } else if (o.to.kind === 'client') {
        this.toClients.push({ from, to: o.to, msg: o.msg });
      } else {
        this.queue.push({ from, to: o.to, msg: o.msg });
      }
    }
  }

  tick(replica: number): void {
    this.take(replica, (this.replicas[replica] as ReplicaCore<M, R>).tick());
  }

  deliverTo(replica: number, from: Sender, msg: M): void {
    const core = this.replicas[replica] as ReplicaCore<M, R>;
    this.take(replica, core.step(from, msg));
    this.take(replica, core.flush());
    core.checkInvariants();
  }

  /** Deliver queued messages until none are left (or `max` deliveries, against livelock). */
  run(max = 10_000): number {
    let n = 0;
    while (this.queue.length > 0 && n < max) {
      const d = this.queue.shift() as Delivery<M>;
      n++;
      if (this.drop(d) || d.to.kind !== 'replica') continue;
      this.deliverTo(d.to.replica, d.from, d.msg);
    }
    return n;
  }

  /** Every reply sent to `client`, those batched in `replies` messages one by one. */
  repliesFor(client: string): Reply[] {
    return this.toClients
      .filter((d) => addrKey(d.to) === `c:${client}`)
      .flatMap((d): Reply[] => {
        const msg = d.msg as { type: string } as ClientMessage;
        if (msg.type === 'reply') return [msg];
        if (msg.type !== 'replies') return [];
        const r = msg.replies;
        return r.seq.map((seq, i) => ({ type: 'reply', seq, status: r.status[i]!, output: r.output[i]!, leader: r.leader[i]! }));
      });
  }
}
