/**
 * Replies to clients, gathered while a core handles one call and sent when the call ends: per
 * client one `reply`, or `replies` when it has several (within the batch limits). A leader that
 * executes a slot of a thousand commands from a dozen clients then sends a dozen messages.
 */
import { type Address, clientAddr } from './core.js';
import type { OpOutput } from './kv.js';
import { batchEnds, type ClientMessage, type Replies, type ReplyStatus } from './messages.js';

/** Where replies go: a core's outbox (see `Outbox.sendChosen` for `solo`). */
export interface ReplySink {
  sendChosen(to: Address, msg: ClientMessage, solo: boolean): void;
}

export class ReplyBatcher {
  /** Per client, its replies so far as `replies` carries them. */
  private readonly byClient = new Map<string, Replies['replies']>();

  add(client: string, seq: number, status: ReplyStatus, output: OpOutput, leader: number): void {
    let t = this.byClient.get(client);
    if (t === undefined) {
      t = { seq: [], status: [], output: [], leader: [] };
      this.byClient.set(client, t);
    }
    t.seq.push(seq);
    t.status.push(status);
    t.output.push(output);
    t.leader.push(leader);
  }

  /** Sends everything gathered since the last call, in the order it was added per client. */
  sendAll(out: ReplySink, solo: boolean): void {
    if (this.byClient.size === 0) return;
    for (const [client, t] of this.byClient) {
      const to = clientAddr(client);
      const n = t.seq.length;
      let start = 0;
      for (const end of batchEnds(n, (i) => {
        const output = t.output[i];
        return typeof output === 'string' ? output.length : 0;
      })) {
        if (end - start === 1) {
          out.sendChosen(to, { type: 'reply', seq: t.seq[start] as number, status: t.status[start] as ReplyStatus, output: t.output[start] as OpOutput, leader: t.leader[start] as number }, solo);
        } else if (start === 0 && end === n) {
          out.sendChosen(to, { type: 'replies', replies: t }, solo);
        } else {
          const cut = <T>(column: T[]): T[] => column.slice(start, end);
          out.sendChosen(to, { type: 'replies', replies: { seq: cut(t.seq), status: cut(t.status), output: cut(t.output), leader: cut(t.leader) } }, solo);
        }
        start = end;
      }
    }
    this.byClient.clear();
  }
}
