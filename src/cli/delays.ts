/**
 * Injected link delays on the command line (src/bench/delays.ts has the model and the file
 * format). A replica takes the one-way delay of each link class, or a topology file, or both
 * (the class flags then override the file's classes):
 *
 *   mdlin replica ... --delay-client-ms 10 --delay-shard-ms 10 --delay-replica-ms 10
 *   mdlin replica ... --topology wan.json
 *
 * `mdlin cluster` and `mdlin bench` take `--topology uniform|edge|geo|FILE` with `--delay-ms`
 * (a preset's scale: for uniform, the delay T itself) and hand every replica the flags above.
 */
import path from 'node:path';
import { InvalidArgumentError } from 'commander';
import { MDL_WINDOW_DEFAULT } from '../client/client.js';
import { replicaAddr } from '../protocol/common/core.js';
import { RUNTIME_DEFAULTS, type RuntimeLimits } from '../runtime/config.js';
import type { LinkDelay } from '../transport/transport.js';
import { classTopology, delayFrom, isZero, maxDelaysMs, readTopologyFile, TopologyFileError, type Topology } from '../bench/delays.js';
import { isTopologyName, topologyDelaysMs, type LinkDelaysMs, type TopologyName } from '../bench/model.js';

/** `--topology`: a preset, or a topology file (read and checked when the flag is parsed). */
export type TopologyArg = { readonly preset: TopologyName } | { readonly file: string; readonly topology: Topology };

export function topologyArg(text: string): TopologyArg {
  if (isTopologyName(text)) return { preset: text };
  try {
    const file = path.resolve(text);
    return { file, topology: readTopologyFile(file) };
  } catch (err) {
    if (err instanceof TopologyFileError) throw new InvalidArgumentError(`expected uniform, edge, geo or a topology file: ${err.message}`);
    throw err;
  }
}

/** A delay in ms, 0..60000 (fractions allowed). */
export function delayMs(text: string): number {
  const value = /^\d+(\.\d+)?$/.test(text.trim()) ? Number(text) : NaN;
  if (!(value >= 0 && value <= 60_000)) throw new InvalidArgumentError('expected a delay in ms from 0 to 60000');
  return value;
}

/** The delays `--topology` and `--delay-ms` describe. */
export function topologyOf(arg: TopologyArg, scale: number): Topology {
  return 'preset' in arg ? classTopology(topologyDelaysMs(arg.preset, scale)) : arg.topology;
}

/** The replica flags that give every replica the delays of `arg` at `scale` (none when nothing is delayed). */
export function replicaDelayFlags(arg: TopologyArg, scale: number): string[] {
  if ('file' in arg) return ['--topology', arg.file];
  const d = topologyDelaysMs(arg.preset, scale);
  if (isZero(classTopology(d))) return [];
  return ['--delay-client-ms', String(d.clientLeader), '--delay-shard-ms', String(d.leaderLeader), '--delay-replica-ms', String(d.leaderReplica)];
}

// ---------------------------------------------------------------- the replica's side

export interface ReplicaDelayFlags {
  delayClientMs?: number;
  delayShardMs?: number;
  delayReplicaMs?: number;
  topology?: string;
}

/**
 * Timers stretched for slow links, so that delay alone never looks like a failure: Accepts are
 * resent, and elections start, only after a round trip could have come back; a coordination
 * wait allows a whole client window of leader-to-leader hops; a predecessor never seen is given
 * time to come from the slowest client.
 */
export function slowLinkLimits(max: LinkDelaysMs): Partial<RuntimeLimits> {
  const d = RUNTIME_DEFAULTS;
  return {
    resendMs: d.resendMs + 2 * Math.ceil(max.leaderReplica),
    electionTimeoutMs: d.electionTimeoutMs + 4 * Math.ceil(max.leaderReplica),
    coordResendMs: d.coordResendMs + 2 * Math.ceil(max.leaderLeader),
    coordTimeoutMs: d.coordTimeoutMs + MDL_WINDOW_DEFAULT * Math.ceil(max.leaderLeader) + 4 * Math.ceil(max.leaderReplica),
    predUnknownTimeoutMs: d.predUnknownTimeoutMs + 2 * Math.ceil(max.clientLeader),
  };
}

/**
 * What replica `r{shard}.{replica}` applies to what it sends, and its stretched timers; null when
 * no link is delayed. Throws TopologyFileError for a bad file.
 */
export function replicaDelays(flags: ReplicaDelayFlags, shard: number, replica: number): { linkDelayMs: LinkDelay; limits: Partial<RuntimeLimits> } | null {
  const base = flags.topology === undefined ? classTopology({ clientLeader: 0, leaderLeader: 0, leaderReplica: 0 }) : readTopologyFile(flags.topology);
  const topology: Topology = {
    classes: {
      clientLeader: flags.delayClientMs ?? base.classes.clientLeader,
      leaderLeader: flags.delayShardMs ?? base.classes.leaderLeader,
      leaderReplica: flags.delayReplicaMs ?? base.classes.leaderReplica,
    },
    rules: base.rules,
  };
  if (isZero(topology)) return null;
  return { linkDelayMs: delayFrom(topology, replicaAddr(shard, replica)), limits: slowLinkLimits(maxDelaysMs(topology)) };
}
