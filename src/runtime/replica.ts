/**
 * A replica process: the data directory (metadata and write-ahead log, recovered at start), the
 * TCP transport, the link to the master, the core in a `ReplicaHost`, and the admin messages of
 * the torture harness. Start-up order matters for the error cases: the directory's identity is
 * checked before anything is written, the log is locked and replayed before the port is taken,
 * and the core is built only once the cluster's shape (shards, replicas per shard) is known,
 * from the map cached in the data directory or, for a new replica, from the master.
 *
 * Idle means idle: the host's tick timer and the master link's heartbeat timer are the only
 * timers (the transport adds reconnect timers only for peers that are down).
 */
import { createHash, randomInt } from 'node:crypto';
import { assert } from '../protocol/common/assert.js';
import { addrKey, replicaAddr, type Address, type ReplicaAddr, type ReplicaStatus, type Sender } from '../protocol/common/core.js';
import { ADMIN_MESSAGES, type AdminMessage } from '../protocol/common/messages.js';
import { SeededRng } from '../protocol/common/rng.js';
import { MASTER_MESSAGES, type ShardMap } from '../protocol/master/messages.js';
import type { Wal } from '../storage/wal.js';
import type { Message } from '../transport/codec.js';
import { parseAddress, startTcpTransport, type TcpTransport } from '../transport/tcp.js';
import { MASTER, type LinkDelay, type PeerId, type Transport } from '../transport/transport.js';
import { checkRuntimeLimits, RUNTIME_DEFAULTS, type ReplicaParams, type RuntimeLimits } from './config.js';
import { DataDirError, identityProblem, META_FORMAT, readMeta, writeMeta, type ReplicaMeta } from './datadir.js';
import { ReplicaHost, type HostedCore } from './host.js';
import type { ProcessLog } from './log.js';
import { MasterLink } from './masterlink.js';
import { PhaseTimer } from './phases.js';
import type { HostMessage, ReplicaProtocol } from './protocols.js';

export interface ReplicaOptions {
  /** The master's `host:port`. */
  readonly master: string;
  readonly cluster: string;
  readonly shard: number;
  readonly replica: number;
  readonly dataDir: string;
  /** Listen on, and tell the master, this host (default 127.0.0.1). */
  readonly host?: string;
  /** Default: the port this data directory last used, else any free port. */
  readonly port?: number;
  /** false: write the log without fsync; sends do not wait for it (a machine crash can lose acknowledged writes). */
  readonly fsync: boolean;
  readonly thrifty: boolean;
  readonly replyAtCommit: boolean;
  /** MDL: time each operation's phases and answer `phasesRequest` (default off: it costs a map update per phase). */
  readonly observePhases?: boolean;
  readonly limits?: Partial<RuntimeLimits>;
  /** Injected one-way delay in ms for what this replica sends to `peer` (wide-area emulation). */
  readonly linkDelayMs?: LinkDelay;
  readonly log: ProcessLog;
  /** The replica cannot go on (its log failed, the master refused it): stop it and exit non-zero. */
  readonly onFatal: (err: Error) => void;
}

export interface RunningReplica {
  readonly address: string;
  close(): Promise<void>;
}

function isHostMessage(msg: Message): msg is HostMessage {
  return msg.type in ADMIN_MESSAGES;
}

/** SHA-256 of the canonical executed state: equal at equal `executed` means converged. */
export function stateHash(entries: readonly (readonly [string, string])[]): string {
  return createHash('sha256').update(JSON.stringify(entries)).digest('hex');
}

export async function startReplica<M extends Message, R extends Message>(
  protocol: ReplicaProtocol<M, R>,
  opts: ReplicaOptions,
): Promise<RunningReplica> {
  const limits: RuntimeLimits = { ...RUNTIME_DEFAULTS, ...opts.limits };
  checkRuntimeLimits(limits);
  const self = { cluster: opts.cluster, protocol: protocol.name, shard: opts.shard, replica: opts.replica };
  const meta = await readMeta(opts.dataDir);
  if (meta !== null) {
    const problem = identityProblem(opts.dataDir, meta, self);
    if (problem !== null) throw new DataDirError(problem);
  }
  const { wal, records } = await protocol.openWal(opts.dataDir, { fsync: opts.fsync, log: opts.log.info });
  opts.log.debug(`recovered ${records.length} log records from ${wal.file} (${wal.bytes} bytes)`);
  const replica = new ReplicaProcess(protocol, opts, limits, meta, wal, records);
  try {
    await replica.listen();
    await replica.start();
  } catch (err) {
    // What failed is what matters; closing what did start cannot add to it.
    await replica.close().catch(() => undefined);
    throw err;
  }
  return replica;
}

/** Operations whose phases are timed at once (older ones are dropped). */
const PHASE_OPS_MAX = 100_000;

class ReplicaProcess<M extends Message, R extends Message> implements RunningReplica {
  private transport: Transport<HostMessage | M> | null = null;
  /** A connection of its own to the master, with the master's table only. */
  private masterTransport: TcpTransport<typeof MASTER_MESSAGES> | null = null;
  private link: MasterLink | null = null;
  private host: ReplicaHost<M, R> | null = null;
  private core: HostedCore<M, R> | null = null;
  private records: readonly R[] | null;
  private map: ShardMap | null;
  /** Replica key → the address given to the transport with setPeer. */
  private readonly peers = new Map<string, string>();
  private lastStatus: ReplicaStatus | null = null;
  private savedMeta = '';
  private metaWrite: Promise<void> = Promise.resolve();
  private port: number;
  private closed = false;
  private readonly selfAddr: ReplicaAddr;
  /** MDL phase timing, when asked for. */
  private readonly phases: PhaseTimer | null;

  constructor(
    private readonly protocol: ReplicaProtocol<M, R>,
    private readonly opts: ReplicaOptions,
    private readonly limits: RuntimeLimits,
    meta: ReplicaMeta | null,
    private readonly wal: Wal<R>,
    records: R[],
  ) {
    this.records = records;
    this.map = meta?.map ?? null;
    this.port = opts.port ?? meta?.port ?? 0;
    this.selfAddr = replicaAddr(opts.shard, opts.replica);
    this.phases = opts.observePhases === true ? new PhaseTimer(PHASE_OPS_MAX) : null;
  }

  get address(): string {
    const address = this.transport?.address;
    assert(address !== null && address !== undefined, 'the replica is not listening');
    return address;
  }

  async listen(): Promise<void> {
    const options = {
      self: this.selfAddr,
      cluster: this.opts.cluster,
      log: (line: string) => this.opts.log.info(line),
      onMessage: (from: PeerId, msg: HostMessage | M) => this.onMessage(from, msg),
      ...(this.opts.linkDelayMs === undefined ? {} : { linkDelayMs: this.opts.linkDelayMs }),
    };
    const host = this.opts.host ?? '127.0.0.1';
    try {
      this.transport = await this.protocol.startTransport({ ...options, listen: { host, port: this.port } });
    } catch (err) {
      // The port this directory used last is taken (and nobody asked for it): take any.
      if (this.opts.port !== undefined || this.port === 0) throw err;
      this.opts.log.info(`port ${this.port} (used last time) is taken; listening on a free port instead`);
      this.transport = await this.protocol.startTransport({ ...options, listen: { host, port: 0 } });
    }
    this.port = parseAddress(this.address).port;
  }

  async start(): Promise<void> {
    const masterTransport = await startTcpTransport({
      self: this.selfAddr,
      cluster: this.opts.cluster,
      table: MASTER_MESSAGES,
      log: (line: string) => this.opts.log.info(line),
      onMessage: (from, msg) => {
        if (from.kind === 'master' && !this.closed) this.link?.onMessage(msg);
      },
    });
    this.masterTransport = masterTransport;
    masterTransport.setPeer(MASTER, this.opts.master);
    this.link = new MasterLink({
      shard: this.opts.shard,
      replica: this.opts.replica,
      address: this.address,
      protocol: this.protocol.name,
      heartbeatMs: this.limits.masterHeartbeatMs,
      registerRetryMinMs: this.limits.registerRetryMinMs,
      registerRetryMaxMs: this.limits.registerRetryMaxMs,
      send: (msg) => masterTransport.send(MASTER, msg),
      status: () => this.core?.status() ?? null,
      onMap: (map) => this.applyMap(map),
      onRefused: (reason) => this.fail(new Error(`the master at ${this.opts.master} refused this replica: ${reason}`)),
      log: (line) => this.opts.log.debug(line),
    });
    this.link.start();
    this.saveMeta();
    if (this.map !== null) this.applyMap(this.map);
    else this.opts.log.info(`waiting for the master at ${this.opts.master} (no cached shard map in ${this.opts.dataDir})`);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.link?.stop();
    await this.host?.stop();
    await this.masterTransport?.close();
    await this.transport?.close();
    await this.metaWrite;
    await this.wal.close();
  }

  private fail(err: Error): void {
    if (this.closed) return;
    this.opts.onFatal(err);
  }

  // ---------------------------------------------------------------- input

  private onMessage(from: PeerId, msg: HostMessage | M): void {
    if (this.closed) return;
    if (from.kind === 'master') return;
    if (!isHostMessage(msg)) this.host?.step(from, msg);
    else if (from.kind === 'client') this.onAdmin(from, msg);
  }

  private onAdmin(from: Sender, msg: AdminMessage): void {
    switch (msg.type) {
      case 'control': {
        const targets = msg.replica >= 0 ? [msg.replica] : this.replicaIds().filter((r) => msg.shard !== this.opts.shard || r !== this.opts.replica);
        for (const r of targets) {
          const peer = replicaAddr(msg.shard, r);
          if (msg.action === 'block') this.transport?.block(peer);
          else this.transport?.unblock(peer);
        }
        this.opts.log.info(`${msg.action} traffic with ${targets.map((r) => addrKey(replicaAddr(msg.shard, r))).join(', ')} (asked by ${addrKey(from)})`);
        return;
      }
      case 'digestRequest': {
        if (this.core === null) return;
        const { executed, entries } = this.core.stateDigest();
        this.transport?.send(from, {
          type: 'digest',
          shard: this.opts.shard,
          replica: this.opts.replica,
          executed,
          keys: entries.length,
          hash: stateHash(entries),
        });
        return;
      }
      case 'phasesRequest': {
        const m = this.phases?.medians() ?? { count: 0, pending: 0, committed: 0, coordinated: 0, ordered: 0 };
        if (msg.reset) this.phases?.reset();
        this.transport?.send(from, { type: 'phases', shard: this.opts.shard, replica: this.opts.replica, ...m });
        return;
      }
      case 'digest':
      case 'phases':
        return;
    }
  }

  private replicaIds(): number[] {
    const n = this.map?.replicasPerShard ?? 0;
    return Array.from({ length: n }, (_, r) => r);
  }

  // ---------------------------------------------------------------- output

  private deliver(to: Address, msg: M): void {
    const transport = this.transport;
    if (transport === null) return;
    switch (to.kind) {
      case 'client':
        transport.send(to, msg);
        return;
      case 'replica':
        this.ensurePeer(to);
        transport.send(to, msg);
        return;
      case 'leader': {
        const leader = this.leaderOf(to.shard);
        // Nobody is known to lead that shard: like a lost message, the core's resend covers it.
        if (leader === null) return;
        this.ensurePeer(leader);
        transport.send(leader, msg);
        return;
      }
    }
  }

  private leaderOf(shard: number): ReplicaAddr | null {
    if (shard === this.opts.shard && this.core !== null) {
      const { leader } = this.core.status();
      if (leader >= 0) return replicaAddr(shard, leader);
    }
    const leader = this.map?.leaders.find((l) => l.shard === shard)?.leader ?? -1;
    return leader >= 0 ? replicaAddr(shard, leader) : null;
  }

  /** Gives the transport the peer's address from the map, the first time it is needed. */
  private ensurePeer(peer: ReplicaAddr): void {
    const key = addrKey(peer);
    if (this.peers.has(key)) return;
    const info = this.map?.replicas.find((r) => r.shard === peer.shard && r.replica === peer.replica);
    if (info === undefined) return;
    this.peers.set(key, info.address);
    this.transport?.setPeer(peer, info.address);
  }

  // ---------------------------------------------------------------- the map

  private applyMap(map: ShardMap): void {
    if (this.closed) return;
    if (this.core !== null) {
      const { shards, replicas } = this.params();
      if (map.shards !== shards || map.replicasPerShard !== replicas) {
        this.fail(
          new Error(
            `the master's cluster has ${map.shards} shards of ${map.replicasPerShard} replicas, ` +
              `but this replica's data is for ${shards} shards of ${replicas} replicas`,
          ),
        );
        return;
      }
    }
    this.map = map;
    for (const info of map.replicas) {
      const peer = replicaAddr(info.shard, info.replica);
      if (info.shard === this.opts.shard && info.replica === this.opts.replica) continue;
      const known = this.peers.get(addrKey(peer));
      // Peers of this shard are dialled at once; others only once something is sent to them.
      if (known === info.address || (known === undefined && info.shard !== this.opts.shard)) continue;
      if (known !== undefined) this.opts.log.info(`${addrKey(peer)} moved to ${info.address}`);
      this.peers.set(addrKey(peer), info.address);
      this.transport?.setPeer(peer, info.address);
    }
    if (this.core === null) this.createCore(map);
    this.saveMeta();
  }

  private params(): ReplicaParams {
    assert(this.map !== null, 'the cluster shape comes from a map');
    return {
      shard: this.opts.shard,
      replica: this.opts.replica,
      shards: this.map.shards,
      replicas: this.map.replicasPerShard,
      thrifty: this.opts.thrifty,
      replyAtCommit: this.opts.replyAtCommit,
      observePhases: this.phases !== null,
      limits: this.limits,
    };
  }

  private createCore(map: ShardMap): void {
    const params = this.params();
    if (params.shard >= map.shards || params.replica >= map.replicasPerShard) {
      this.fail(new Error(`replica ${addrKey(this.selfAddr)} does not exist in a cluster of ${map.shards} shards of ${map.replicasPerShard} replicas`));
      return;
    }
    const records = this.records;
    assert(records !== null, 'the core is created once');
    this.records = null;
    const core = this.protocol.createCore(params, new SeededRng(randomInt(2 ** 32)), records);
    this.core = core;
    this.host = new ReplicaHost({
      core,
      wal: this.wal,
      deliver: (to, msg) => this.deliver(to, msg),
      tickMs: this.limits.tickMs,
      walCompactBytes: this.limits.walCompactBytes,
      onFatal: (err) => this.fail(new Error(`write-ahead log failed: ${err.message}`)),
      afterTurn: () => this.afterTurn(),
      ...(this.phases === null ? {} : { observe: this.phases.observe.bind(this.phases) }),
    });
    this.host.start();
    this.afterTurn();
  }

  /** Logs role changes and tells the master at once, so clients find a new leader quickly. */
  private afterTurn(): void {
    const core = this.core;
    if (core === null) return;
    const s = core.status();
    const last = this.lastStatus;
    if (last !== null && last.role === s.role && last.leader === s.leader && last.ballot === s.ballot) return;
    this.lastStatus = s;
    const leader = s.leader >= 0 ? `r${this.opts.shard}.${s.leader}` : 'unknown';
    this.opts.log.info(`role ${s.role} ballot=${s.ballot} leader=${leader} executed=${s.executed}`);
    this.link?.reportNow();
  }

  /** Keeps the data directory's copy of the map current (written only when addresses or leaders change). */
  private saveMeta(): void {
    const map = this.map;
    const shape = JSON.stringify([this.port, map?.replicas.map((r) => [r.shard, r.replica, r.address]), map?.leaders]);
    if (shape === this.savedMeta) return;
    this.savedMeta = shape;
    const meta: ReplicaMeta = {
      format: META_FORMAT,
      cluster: this.opts.cluster,
      protocol: this.protocol.name,
      shard: this.opts.shard,
      replica: this.opts.replica,
      port: this.port,
      map,
    };
    this.metaWrite = this.metaWrite
      .then(() => writeMeta(this.opts.dataDir, meta))
      .catch((err: unknown) => this.opts.log.info(`cannot save ${this.opts.dataDir} metadata: ${(err as Error).message}`));
  }
}
