/**
 * The admin messages every replica handles (src/runtime/replica.ts): `control` blocks or unblocks
 * its traffic with a peer, `digestRequest` asks for a digest of its executed state. A digest also
 * acknowledges the controls sent before it on the same connection, since a replica handles one
 * connection's messages in order.
 */
import { CLIENT_WIRE } from '../client/wire.js';
import { addrKey, type ReplicaAddr } from '../protocol/common/core.js';
import { ClientConnection } from '../transport/client.js';

export interface Control {
  readonly action: 'block' | 'unblock';
  readonly shard: number;
  /** -1: every replica of `shard` (but the receiver itself). */
  readonly replica: number;
}

export interface Digest {
  readonly executed: number;
  readonly keys: number;
  readonly hash: string;
}

/**
 * Sends `controls` then a digest request to `target` at `address`, and resolves with its digest;
 * rejects when the connection fails or no digest comes within `timeoutMs`.
 */
export function adminExchange(
  cluster: string,
  target: ReplicaAddr,
  address: string,
  controls: readonly Control[],
  timeoutMs: number,
): Promise<Digest> {
  return new Promise((resolve, reject) => {
    const finish = (err: Error | null, digest?: Digest): void => {
      clearTimeout(timer);
      void conn.close();
      if (err !== null) reject(err);
      else resolve(digest as Digest);
    };
    const timer = setTimeout(() => finish(new Error(`no digest from ${addrKey(target)} within ${timeoutMs} ms`)), timeoutMs);
    const conn = new ClientConnection({
      client: `torture-admin-${process.pid}`,
      cluster,
      table: CLIENT_WIRE,
      server: target,
      address,
      log: () => undefined,
      onMessage: (msg) => {
        if (msg.type === 'digest') finish(null, { executed: msg.executed, keys: msg.keys, hash: msg.hash });
      },
      onClose: (reason) => finish(new Error(`lost the admin connection to ${addrKey(target)}: ${reason}`)),
    });
    for (const c of controls) conn.send({ type: 'control', ...c });
    conn.send({ type: 'digestRequest' });
  });
}
