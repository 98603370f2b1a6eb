/**
 * The `mdlin master` server: hosts a `MasterCore` over the TCP transport. It ticks every
 * `tickMs` and keeps nothing on disk: after a restart, the replicas' heartbeats (answered with
 * "register again") rebuild the map within one heartbeat period, and meanwhile the cluster keeps
 * serving on the maps that replicas and clients cached.
 */
import { assert } from '../protocol/common/assert.js';
import type { Output } from '../protocol/common/core.js';
import { MasterCore, type MasterConfig } from '../protocol/master/core.js';
import { MASTER_MESSAGES, type MasterMessage, type ProtocolName, type ShardMap } from '../protocol/master/messages.js';
import type { ProcessLog } from '../runtime/log.js';
import { startTcpTransport, type TcpTransport } from '../transport/tcp.js';
import { MASTER } from '../transport/transport.js';

export const MASTER_TICK_MS_DEFAULT = 250;
/** A replica unheard for this long is shown as down (five missed heartbeats of 200 ms). */
export const MASTER_DOWN_AFTER_MS_DEFAULT = 1500;

export interface MasterOptions {
  readonly cluster: string;
  readonly protocol: ProtocolName;
  readonly shards: number;
  readonly replicasPerShard: number;
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** 0: any free port. */
  readonly port: number;
  readonly tickMs?: number;
  readonly downAfterMs?: number;
  readonly log: ProcessLog;
}

export interface RunningMaster {
  readonly address: string;
  /** The current map (what `getMap` answers). */
  map(): ShardMap;
  close(): Promise<void>;
}

export async function startMaster(opts: MasterOptions): Promise<RunningMaster> {
  const tickMs = opts.tickMs ?? MASTER_TICK_MS_DEFAULT;
  const config: MasterConfig = {
    cluster: opts.cluster,
    protocol: opts.protocol,
    shards: opts.shards,
    replicasPerShard: opts.replicasPerShard,
    tickMs,
    downAfterTicks: Math.max(1, Math.round((opts.downAfterMs ?? MASTER_DOWN_AFTER_MS_DEFAULT) / tickMs)),
  };
  const core = new MasterCore(config);
  const watcher = new MapWatcher(opts.log);
  let transport: TcpTransport<typeof MASTER_MESSAGES> | null = null;
  const carryOut = (outputs: Output<MasterMessage, never>[]): void => {
    // The master only answers replicas and clients (never a shard's leader by role).
    for (const out of outputs) if (out.type === 'send' && out.to.kind !== 'leader') transport?.send(out.to, out.msg);
    watcher.observe(core.map());
  };
  transport = await startTcpTransport({
    self: MASTER,
    cluster: opts.cluster,
    table: MASTER_MESSAGES,
    listen: { host: opts.host ?? '127.0.0.1', port: opts.port },
    log: (line) => opts.log.debug(line),
    onMessage: (from, msg) => {
      if (from.kind !== 'master') carryOut(core.step(from, msg));
    },
  });
  const ticker = setInterval(() => carryOut(core.tick()), tickMs);
  const address = transport.address;
  assert(address !== null, 'the master listens');
  opts.log.info(`cluster ${JSON.stringify(opts.cluster)}: ${opts.shards} shards of ${opts.replicasPerShard} ${opts.protocol} replicas`);
  return {
    address,
    map: () => core.map(),
    close: async () => {
      clearInterval(ticker);
      await transport?.close();
    },
  };
}

/** Logs what an operator cares about: replicas joining, going down, and leaders changing. */
class MapWatcher {
  private version = 0;
  private readonly roles = new Map<string, string>();
  private readonly leaders = new Map<number, number>();

  constructor(private readonly log: ProcessLog) {}

  observe(map: ShardMap): void {
    if (map.version === this.version) return;
    this.version = map.version;
    for (const r of map.replicas) {
      const key = `r${r.shard}.${r.replica}`;
      const before = this.roles.get(key);
      const now = r.role === 'down' ? 'down' : `up at ${r.address} pid ${r.pid}`;
      if (before !== now) this.log.info(`${key} ${now}`);
      this.roles.set(key, now);
    }
    for (const l of map.leaders) {
      if (this.leaders.get(l.shard) === l.leader) continue;
      this.leaders.set(l.shard, l.leader);
      this.log.info(l.leader >= 0 ? `shard ${l.shard} leader r${l.shard}.${l.leader} ballot ${l.ballot}` : `shard ${l.shard} has no leader`);
    }
  }
}
