/**
 * Replies to clients, gathered while a core handles one call and sent when the call ends: per
 * client one `reply`, or `replies` when it has several (within the batch limits). A leader that
 * executes a slot of a thousand commands from a dozen clients then sends a dozen messages.
 */
import { type Address, clientAddr } from './core.js';
import { batches, type ClientMessage, type ReplyItem } from './messages.js';

/** Where replies go: a core's outbox (see `Outbox.sendChosen` for `solo`). */
export interface ReplySink {
  sendChosen(to: Address, msg: ClientMessage, solo: boolean): void;
}

const outputChars = (r: ReplyItem): number => (typeof r.output === 'string' ? r.output.length : 0);

export class ReplyBatcher {
  private readonly byClient = new Map<string, ReplyItem[]>();

  add(client: string, reply: ReplyItem): void {
    const items = this.byClient.get(client);
    if (items === undefined) this.byClient.set(client, [reply]);
    else items.push(reply);
  }

  /** Sends everything gathered since the last call, in the order it was added per client. */
  sendAll(out: ReplySink, solo: boolean): void {
    if (this.byClient.size === 0) return;
    for (const [client, items] of this.byClient) {
      const to = clientAddr(client);
      for (const run of batches(items, outputChars)) {
        const [first] = run;
        if (run.length === 1 && first !== undefined) out.sendChosen(to, { type: 'reply', ...first }, solo);
        else out.sendChosen(to, { type: 'replies', replies: run }, solo);
      }
    }
    this.byClient.clear();
  }
}
