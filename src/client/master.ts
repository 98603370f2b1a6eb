/**
 * A client's connection to the master: asks for the shard map. Any map the master sends answers
 * every request waiting, so a late answer to a request that timed out is not wasted.
 */
import type { ShardMap } from '../protocol/master/messages.js';
import { ClientConnection } from '../transport/client.js';
import { MASTER, type Logger } from '../transport/transport.js';
import { ConnectError } from './errors.js';
import { CLIENT_WIRE } from './wire.js';

interface Waiter {
  readonly resolve: (map: ShardMap) => void;
  readonly reject: (err: Error) => void;
  readonly timer: NodeJS.Timeout;
}

export class MasterClient {
  private readonly conn: ClientConnection<typeof CLIENT_WIRE>;
  private waiters: Waiter[] = [];

  constructor(
    readonly address: string,
    cluster: string,
    client: string,
    log: Logger,
  ) {
    this.conn = new ClientConnection({
      client,
      cluster,
      table: CLIENT_WIRE,
      server: MASTER,
      address,
      log,
      onMessage: (msg) => {
        if (msg.type === 'map') this.answer(msg.map);
      },
      onClose: (reason) => this.failAll(new ConnectError(`lost the connection to the master at ${address}: ${reason}`)),
    });
  }

  /** The current map; rejects with a ConnectError naming the reason (unreachable, refused, timed out). */
  async fetch(timeoutMs: number): Promise<ShardMap> {
    try {
      await this.conn.connect();
    } catch (err) {
      throw new ConnectError((err as Error).message);
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w.timer !== timer);
        reject(new ConnectError(`the master at ${this.address} did not answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.push({ resolve, reject, timer });
      this.conn.send({ type: 'getMap' });
    });
  }

  async close(): Promise<void> {
    this.failAll(new ConnectError('closed'));
    await this.conn.close();
  }

  private answer(map: ShardMap): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) {
      clearTimeout(w.timer);
      w.resolve(map);
    }
  }

  private failAll(err: Error): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) {
      clearTimeout(w.timer);
      w.reject(err);
    }
  }
}

/** Asks the master at `address` for the map once. */
export async function fetchMap(address: string, cluster: string, timeoutMs: number, log: Logger): Promise<ShardMap> {
  const master = new MasterClient(address, cluster, `status-${process.pid}`, log);
  try {
    return await master.fetch(timeoutMs);
  } finally {
    await master.close();
  }
}
