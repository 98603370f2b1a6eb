/**
 * The first frame each way on every connection. The dialling side sends `hello`; the accepting
 * side checks it and answers with its own `hello`, or with `refuse` and closes. A side learns
 * who the other is only from its hello, never from addresses or the order of arrival.
 */
import { assert } from '../protocol/common/assert.js';
import type { MessageTable, MessagesOf } from '../protocol/common/schema.js';
import { clientAddr, replicaAddr } from '../protocol/common/core.js';
import { WIRE_VERSION } from './codec.js';
import { MASTER, peerKey, type PeerId } from './transport.js';

export const HELLO_MAGIC = 'mdlin';
/** Wire versions this build accepts in a hello. */
export const SUPPORTED_VERSIONS: readonly number[] = [WIRE_VERSION];
export const PEER_ROLES = ['replica', 'client', 'master'] as const;

/**
 * Codes 250-255 are reserved for the transport. The identity is flat on the wire: `shard` and
 * `replica` are -1 unless the role is replica, `client` is empty unless the role is client;
 * `checkHello` enforces that and turns it into a `PeerId`.
 */
export const HANDSHAKE_MESSAGES = {
  hello: {
    code: 250,
    schema: {
      magic: 'str',
      version: 'nat',
      cluster: 'str',
      role: { enum: PEER_ROLES },
      shard: 'int',
      replica: 'int',
      client: 'str',
    },
  },
  refuse: { code: 251, schema: { reason: 'str' } },
} as const;

export type HandshakeMessage = MessagesOf<typeof HANDSHAKE_MESSAGES>;
export type Hello = Extract<HandshakeMessage, { type: 'hello' }>;

/** `table` plus the handshake kinds, for decoding everything a connection can carry. */
export function withHandshake<T extends MessageTable>(table: T): T & typeof HANDSHAKE_MESSAGES {
  for (const type of Object.keys(HANDSHAKE_MESSAGES)) {
    assert(!(type in table), `message type ${type} is reserved for the transport handshake`);
  }
  return { ...table, ...HANDSHAKE_MESSAGES };
}

export function helloFor(self: PeerId, cluster: string): Hello {
  return {
    type: 'hello',
    magic: HELLO_MAGIC,
    version: WIRE_VERSION,
    cluster,
    role: self.kind,
    shard: self.kind === 'replica' ? self.shard : -1,
    replica: self.kind === 'replica' ? self.replica : -1,
    client: self.kind === 'client' ? self.client : '',
  };
}

export type HelloCheck = { readonly ok: true; readonly peer: PeerId } | { readonly ok: false; readonly reason: string };

/** Who `hello` says it is, or why it must be refused by a member of `cluster`. */
export function checkHello(hello: Hello, cluster: string): HelloCheck {
  if (hello.magic !== HELLO_MAGIC) return { ok: false, reason: `bad magic ${JSON.stringify(hello.magic)}` };
  if (!SUPPORTED_VERSIONS.includes(hello.version)) {
    return { ok: false, reason: `unsupported version ${hello.version} (supported: ${SUPPORTED_VERSIONS.join(', ')})` };
  }
  if (hello.cluster !== cluster) {
    return { ok: false, reason: `cluster ${JSON.stringify(hello.cluster)} is not this cluster ${JSON.stringify(cluster)}` };
  }
  const { role, shard, replica, client } = hello;
  switch (role) {
    case 'replica':
      return shard >= 0 && replica >= 0 && client === ''
        ? { ok: true, peer: replicaAddr(shard, replica) }
        : { ok: false, reason: `bad replica identity shard=${shard} replica=${replica} client=${JSON.stringify(client)}` };
    case 'client':
      return client !== '' && shard === -1 && replica === -1
        ? { ok: true, peer: clientAddr(client) }
        : { ok: false, reason: `bad client identity client=${JSON.stringify(client)} shard=${shard} replica=${replica}` };
    case 'master':
      return client === '' && shard === -1 && replica === -1
        ? { ok: true, peer: MASTER }
        : { ok: false, reason: 'bad master identity: shard, replica and client must be unset' };
  }
}

/** For logs: `r0.1` or `r0.1@127.0.0.1:7001`. */
export function describePeer(peer: PeerId | null, remote: string): string {
  return peer === null ? remote : `${peerKey(peer)}@${remote}`;
}
