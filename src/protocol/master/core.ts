/**
 * The metadata master (PROTOCOLS.md §6) as a pure core: it learns replicas from their
 * registrations and heartbeats, knows each shard's leader with its ballot, and hands the shard map
 * to whoever asks. It keeps nothing on disk: after a restart, heartbeats (answered with "register
 * again") rebuild the same picture within one heartbeat period.
 */
import { assert } from '../common/assert.js';
import type { Core, Output, Sender } from '../common/core.js';
import { Outbox } from '../common/outbox.js';
import type { MasterMessage, ProtocolName, ReplicaInfo, Role, ShardMap } from './messages.js';

export interface MasterConfig {
  readonly cluster: string;
  readonly protocol: ProtocolName;
  readonly shards: number;
  readonly replicasPerShard: number;
  /** Milliseconds one tick stands for (the map reports how long ago each replica was heard). */
  readonly tickMs: number;
  /** A replica not heard from for this long is shown as down and cannot be leader. */
  readonly downAfterTicks: number;
}

interface Known {
  address: string;
  pid: number;
  role: Role;
  ballot: number;
  heardTick: number;
}

export class MasterCore implements Core<MasterMessage, never> {
  private readonly out = new Outbox<MasterMessage, never>();
  private readonly replicas = new Map<string, Known & { shard: number; replica: number }>();
  private now = 0;
  private version = 1;
  private cachedMap: ShardMap | null = null;

  constructor(readonly config: MasterConfig) {
    assert(config.shards >= 1 && config.replicasPerShard >= 1, 'a cluster has shards and replicas');
    assert(config.tickMs > 0 && config.downAfterTicks >= 1, 'master timing limits');
  }

  step(from: Sender, msg: MasterMessage): Output<MasterMessage, never>[] {
    switch (msg.type) {
      case 'register':
        this.onRegister(from, msg);
        break;
      case 'heartbeat':
        this.onHeartbeat(from, msg);
        break;
      case 'getMap':
        this.out.send(from, { type: 'map', map: this.map() });
        break;
      case 'registerReply':
      case 'heartbeatReply':
      case 'map':
        break;
    }
    return this.out.take();
  }

  tick(): Output<MasterMessage, never>[] {
    this.now++;
    for (const r of this.replicas.values()) {
      if (r.role !== 'down' && this.now - r.heardTick > this.config.downAfterTicks) {
        r.role = 'down';
        this.changed();
      }
    }
    return this.out.take();
  }

  flush(): Output<MasterMessage, never>[] {
    return this.out.take();
  }

  private onRegister(from: Sender, m: Extract<MasterMessage, { type: 'register' }>): void {
    const error = this.registrationProblem(from, m);
    if (error === '') {
      this.replicas.set(`${m.shard}.${m.replica}`, {
        shard: m.shard,
        replica: m.replica,
        address: m.address,
        pid: m.pid,
        role: 'follower',
        ballot: 0,
        heardTick: this.now,
      });
      this.changed();
    }
    this.out.send(from, { type: 'registerReply', error, map: this.map() });
  }

  private registrationProblem(from: Sender, m: Extract<MasterMessage, { type: 'register' }>): string {
    if (from.kind !== 'replica' || from.shard !== m.shard || from.replica !== m.replica) {
      return 'registration does not match the connection identity';
    }
    if (m.protocol !== this.config.protocol) {
      return `this cluster runs protocol ${this.config.protocol}, not ${m.protocol}`;
    }
    if (m.shard >= this.config.shards) return `shard ${m.shard} does not exist (the cluster has ${this.config.shards})`;
    if (m.replica >= this.config.replicasPerShard) {
      return `replica id ${m.replica} is out of range (shards have ${this.config.replicasPerShard} replicas)`;
    }
    return '';
  }

  private onHeartbeat(from: Sender, m: Extract<MasterMessage, { type: 'heartbeat' }>): void {
    const r = this.replicas.get(`${m.shard}.${m.replica}`);
    if (r === undefined || from.kind !== 'replica' || from.shard !== m.shard || from.replica !== m.replica) {
      this.out.send(from, { type: 'heartbeatReply', known: false, map: this.map() });
      return;
    }
    r.heardTick = this.now;
    if (r.role !== m.role || r.ballot !== m.ballot) {
      r.role = m.role;
      r.ballot = m.ballot;
      this.changed();
    }
    this.out.send(from, { type: 'heartbeatReply', known: true, map: m.mapVersion === this.version ? null : this.map() });
  }

  private changed(): void {
    this.version++;
    this.cachedMap = null;
  }

  /** The current map: each shard's leader is the live replica claiming leadership at the highest ballot. */
  map(): ShardMap {
    if (this.cachedMap !== null) {
      // Only the ages change between versions; refresh them.
      for (const info of this.cachedMap.replicas) {
        const r = this.replicas.get(`${info.shard}.${info.replica}`);
        if (r !== undefined) info.heardMsAgo = (this.now - r.heardTick) * this.config.tickMs;
      }
      return this.cachedMap;
    }
    const replicas: ReplicaInfo[] = [...this.replicas.values()]
      .sort((a, b) => a.shard - b.shard || a.replica - b.replica)
      .map((r) => ({
        shard: r.shard,
        replica: r.replica,
        address: r.address,
        pid: r.pid,
        role: r.role,
        ballot: r.ballot,
        heardMsAgo: (this.now - r.heardTick) * this.config.tickMs,
      }));
    const leaders = [];
    for (let shard = 0; shard < this.config.shards; shard++) {
      let best: ReplicaInfo | undefined;
      for (const r of replicas) {
        if (r.shard === shard && r.role === 'leader' && (best === undefined || r.ballot > best.ballot)) best = r;
      }
      leaders.push({ shard, leader: best?.replica ?? -1, ballot: best?.ballot ?? 0 });
    }
    this.cachedMap = {
      cluster: this.config.cluster,
      protocol: this.config.protocol,
      shards: this.config.shards,
      replicasPerShard: this.config.replicasPerShard,
      version: this.version,
      replicas,
      leaders,
    };
    return this.cachedMap;
  }
}
