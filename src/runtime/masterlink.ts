/**
 * A replica's side of the master protocol (PROTOCOLS.md §6): register at start (again and again,
 * with a growing delay, until the master answers), then heartbeat with the core's role, ballot
 * and leader; register again when the master says it does not know us (it restarted); hand every
 * map the master sends to the replica. One interval timer drives it all. While the master is
 * down, a heartbeat goes out only every `STALE_HEARTBEATS` periods, so the transport's queue for
 * the master does not fill with stale ones.
 */
import type { ReplicaStatus } from '../protocol/common/core.js';
import type { MasterMessage, ProtocolName, ShardMap } from '../protocol/master/messages.js';

/** Periods to wait for the answer to a heartbeat before sending the next one anyway. */
const STALE_HEARTBEATS = 5;

export interface MasterLinkOptions {
  readonly shard: number;
  readonly replica: number;
  readonly address: string;
  readonly protocol: ProtocolName;
  readonly heartbeatMs: number;
  readonly registerRetryMinMs: number;
  readonly registerRetryMaxMs: number;
  readonly send: (msg: MasterMessage) => void;
  /** The core's status, or null while there is no core yet (nothing to report). */
  readonly status: () => ReplicaStatus | null;
  readonly onMap: (map: ShardMap) => void;
  /** The master refused the registration: this replica cannot be part of the cluster. */
  readonly onRefused: (reason: string) => void;
  readonly log: (line: string) => void;
}

export class MasterLink {
  private registered = false;
  private registerDelayMs: number;
  private nextRegisterMs = 0;
  private heartbeatSentMs = -Infinity;
  private heartbeatAnswered = true;
  /** The version of the last map taken from the master (0: none yet). */
  private mapVersion = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly opts: MasterLinkOptions) {
    this.registerDelayMs = opts.registerRetryMinMs;
  }

  start(): void {
    this.register();
    this.timer = setInterval(() => this.onTimer(), this.opts.heartbeatMs);
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  onMessage(msg: MasterMessage): void {
    switch (msg.type) {
      case 'registerReply':
        if (msg.error !== '') {
          this.opts.onRefused(msg.error);
          return;
        }
        if (!this.registered) this.opts.log(`registered with the master (map version ${msg.map.version})`);
        this.registered = true;
        this.registerDelayMs = this.opts.registerRetryMinMs;
        this.heartbeatAnswered = true;
        this.takeMap(msg.map);
        return;
      case 'heartbeatReply':
        this.heartbeatAnswered = true;
        if (!msg.known && this.registered) {
          this.opts.log('the master does not know this replica (it restarted?): registering again');
          this.registered = false;
          this.register();
        }
        if (msg.map !== null) this.takeMap(msg.map);
        return;
      case 'map':
        this.takeMap(msg.map);
        return;
      case 'register':
      case 'heartbeat':
      case 'getMap':
        return;
    }
  }

  private takeMap(map: ShardMap): void {
    this.mapVersion = map.version;
    this.opts.onMap(map);
  }

  /** The core's role or leader changed: tell the master now rather than at the next heartbeat. */
  reportNow(): void {
    if (this.registered) this.heartbeat(true);
  }

  private onTimer(): void {
    if (!this.registered) {
      if (performance.now() >= this.nextRegisterMs) this.register();
      return;
    }
    this.heartbeat(false);
  }

  private heartbeat(urgent: boolean): void {
    const status = this.opts.status();
    if (status === null) return;
    const now = performance.now();
    // An unanswered heartbeat: the master may be down; do not pile up more.
    if (!urgent && !this.heartbeatAnswered && now - this.heartbeatSentMs < STALE_HEARTBEATS * this.opts.heartbeatMs) return;
    this.heartbeatAnswered = false;
    this.heartbeatSentMs = now;
    this.opts.send({
      type: 'heartbeat',
      shard: this.opts.shard,
      replica: this.opts.replica,
      role: status.role,
      ballot: status.ballot,
      leader: status.leader,
      mapVersion: this.mapVersion,
    });
  }

  private register(): void {
    this.opts.send({
      type: 'register',
      shard: this.opts.shard,
      replica: this.opts.replica,
      address: this.opts.address,
      pid: process.pid,
      protocol: this.opts.protocol,
    });
    this.nextRegisterMs = performance.now() + this.registerDelayMs;
    this.registerDelayMs = Math.min(this.registerDelayMs * 2, this.opts.registerRetryMaxMs);
  }
}
