/**
 * Per-protocol plumbing, in one place: what a replica process of each protocol decodes on its
 * connections, what its write-ahead log holds, and how its core is built. A replica's connections
 * to peers and clients carry its protocol's messages plus the client and admin messages; the
 * master's messages travel on a separate connection with the master's table (masterlink.ts). Each entry is written
 * with its protocol's concrete types, so the compiler checks that the wire table decodes exactly
 * the messages the core and the host handle, and that the record table matches the core's
 * records. Adding a protocol is one entry in `REPLICA_PROTOCOLS`.
 */
import type { Rng } from '../protocol/common/rng.js';
import type { MessageTable } from '../protocol/common/schema.js';
import type { AdminMessage } from '../protocol/common/messages.js';
import { PROTOCOL_NAMES, type ProtocolName } from '../protocol/master/messages.js';
import { MP_RECORDS, type MultiPaxosRecord } from '../protocol/multipaxos/messages.js';
import { MDL_RECORDS, type MdlRecord, type MdlWire } from '../protocol/mdl/messages.js';
import { MdlReplica } from '../protocol/mdl/replica.js';
import { MultiPaxosReplica, type MultiPaxosWire } from '../protocol/multipaxos/replica.js';
import { MDL_WIRE, PAXOS_WIRE } from '../protocol/wire.js';
import { openWal, type OpenedWal, type WalOptions } from '../storage/wal.js';
import type { Message } from '../transport/codec.js';
import { startTcpTransport, type TcpTransportOptions } from '../transport/tcp.js';
import type { MessageHandler, Transport } from '../transport/transport.js';
import { mdlConfig, multiPaxosConfig, type ReplicaParams } from './config.js';
import type { HostedCore } from './host.js';
import { startReplica, type ReplicaOptions, type RunningReplica } from './replica.js';

/**
 * Messages a replica process handles itself on its peer and client connections; they never reach
 * the core. (The master's messages travel on a connection of their own: see masterlink.ts.)
 */
export type HostMessage = AdminMessage;

export type ReplicaTransportOptions<W> = Omit<TcpTransportOptions<MessageTable>, 'table' | 'onMessage'> & {
  readonly onMessage: MessageHandler<W>;
};

/** A protocol as a replica process needs it: `M` the core's messages, `R` its log records. */
export interface ReplicaProtocol<M extends Message, R extends Message> {
  readonly name: ProtocolName;
  startTransport(opts: ReplicaTransportOptions<HostMessage | M>): Promise<Transport<HostMessage | M>>;
  openWal(dir: string, opts: WalOptions): Promise<OpenedWal<R>>;
  createCore(params: ReplicaParams, rng: Rng, records: readonly R[]): HostedCore<M, R>;
}

export const PAXOS: ReplicaProtocol<MultiPaxosWire, MultiPaxosRecord> = {
  name: 'paxos',
  startTransport: (opts) => startTcpTransport({ ...opts, table: PAXOS_WIRE }),
  openWal: (dir, opts) => openWal(dir, MP_RECORDS, opts),
  createCore: (params, rng, records) => new MultiPaxosReplica(multiPaxosConfig(params), rng, records),
};

export const MDL: ReplicaProtocol<MdlWire, MdlRecord> = {
  name: 'mdl',
  startTransport: (opts) => startTcpTransport({ ...opts, table: MDL_WIRE }),
  openWal: (dir, opts) => openWal(dir, MDL_RECORDS, opts),
  createCore: (params, rng, records) => new MdlReplica(mdlConfig(params), rng, records),
};

/** How to start a replica of each protocol this build can host. */
export const REPLICA_PROTOCOLS: { readonly [P in ProtocolName]?: (opts: ReplicaOptions) => Promise<RunningReplica> } = {
  paxos: (opts) => startReplica(PAXOS, opts),
  mdl: (opts) => startReplica(MDL, opts),
};

export function hostableProtocols(): ProtocolName[] {
  return PROTOCOL_NAMES.filter((p) => REPLICA_PROTOCOLS[p] !== undefined);
}
