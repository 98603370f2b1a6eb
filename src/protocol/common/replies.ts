/**
 * Replies to clients, gathered while a core handles one call and sent when the call ends: per
 * client one `reply`, or `replies` when it has several (within the batch limits). A leader that
 * executes a slot of a thousand commands from a dozen clients then sends a dozen messages.
 */
import { type Address, clientAddr } from './core.js';
import type { OpOutput } from './kv.js';
import { batchEnds, type ClientMessage, type ReplyStatus } from './messages.js';

/** Where replies go: a core's outbox (see `Outbox.sendChosen` for `solo`). */
export interface ReplySink {
  sendChosen(to: Address, msg: ClientMessage, solo: boolean): void;
}

/** One client's replies so far, column by column as `replies` carries them. */
interface Columns {
  seqs: number[];
  statuses: ReplyStatus[];
  outputs: OpOutput[];
  leaders: number[];
}

export class ReplyBatcher {
  private readonly byClient = new Map<string, Columns>();

  add(client: string, seq: number, status: ReplyStatus, output: OpOutput, leader: number): void {
    let c = this.byClient.get(client);
    if (c === undefined) {
      c = { seqs: [], statuses: [], outputs: [], leaders: [] };
      this.byClient.set(client, c);
    }
    c.seqs.push(seq);
    c.statuses.push(status);
    c.outputs.push(output);
    c.leaders.push(leader);
  }

  /** Sends everything gathered since the last call, in the order it was added per client. */
  sendAll(out: ReplySink, solo: boolean): void {
    if (this.byClient.size === 0) return;
    for (const [client, c] of this.byClient) {
      const to = clientAddr(client);
      const n = c.seqs.length;
      let start = 0;
      for (const end of batchEnds(n, (i) => {
        const output = c.outputs[i];
        return typeof output === 'string' ? output.length : 0;
      })) {
        if (end - start === 1) {
          out.sendChosen(to, { type: 'reply', seq: c.seqs[start] as number, status: c.statuses[start] as ReplyStatus, output: c.outputs[start] as OpOutput, leader: c.leaders[start] as number }, solo);
        } else if (start === 0 && end === n) {
          out.sendChosen(to, { type: 'replies', ...c }, solo);
        } else {
          const cut = <T>(column: T[]): T[] => column.slice(start, end);
          out.sendChosen(to, { type: 'replies', seqs: cut(c.seqs), statuses: cut(c.statuses), outputs: cut(c.outputs), leaders: cut(c.leaders) }, solo);
        }
        start = end;
      }
    }
    this.byClient.clear();
  }
}
