/**
 * Injected link delays: which one-way delay a message gets, by who sends it to whom, so that
 * wide-area settings can be emulated on one machine (the kernel's traffic shaping is not always
 * available). Every process delays what it sends (the transports keep each link FIFO), so a
 * message crosses a link with exactly that link's delay once.
 *
 * Links come in the three classes of the latency model (model.ts), told apart by the two ends:
 * a client and a replica: client↔leader; two replicas of one shard: leader↔replica; replicas of
 * different shards: leader↔leader (only leaders talk across shards). The master is not on the
 * data path and is never delayed.
 *
 * A topology is those three class delays plus optional per-pair rules, read from a JSON file:
 *
 *   {
 *     "clientLeader": 10, "leaderLeader": 10, "leaderReplica": 10,
 *     "links": [
 *       { "between": ["r0.*", "r1.*"], "ms": 40 },
 *       { "from": "client", "to": "r2.0", "ms": 25 }
 *     ]
 *   }
 *
 * Class delays default to 0. A rule names its ends with `r<shard>.<replica>` (either number may
 * be `*`), `client` (every client) or `*` (anyone); `between` applies both ways, `from`/`to` one
 * way. The last rule that matches a link wins; a link no rule matches gets its class's delay.
 */
import { readFileSync } from 'node:fs';
import type { ClientAddr, ReplicaAddr } from '../protocol/common/core.js';
import type { LinkDelaysMs } from './model.js';

/** One end of a link, as the transports name peers. */
export type Endpoint = ReplicaAddr | ClientAddr | { readonly kind: 'master' };

export type LinkClass = keyof LinkDelaysMs;

const LINK_CLASSES: readonly LinkClass[] = ['clientLeader', 'leaderLeader', 'leaderReplica'];

/** Matches link ends: a client, a replica (null: any shard or replica id), or anyone. */
export type EndPattern =
  | { readonly kind: 'any' }
  | { readonly kind: 'client' }
  | { readonly kind: 'replica'; readonly shard: number | null; readonly replica: number | null };

/** A one-way rule: sends from a `from` end to a `to` end take `ms`. */
export interface LinkRule {
  readonly from: EndPattern;
  readonly to: EndPattern;
  readonly ms: number;
}

export interface Topology {
  readonly classes: Readonly<LinkDelaysMs>;
  /** Later rules take precedence. */
  readonly rules: readonly LinkRule[];
}

/** A topology file that cannot be used; the message names the file and the field. */
export class TopologyFileError extends Error {
  override readonly name = 'TopologyFileError';
}

/** The class of the link between two ends; null when the master is one of them (never delayed). */
export function linkClass(a: Endpoint, b: Endpoint): LinkClass | null {
  if (a.kind === 'master' || b.kind === 'master') return null;
  if (a.kind === 'client' || b.kind === 'client') return 'clientLeader';
  return a.shard === b.shard ? 'leaderReplica' : 'leaderLeader';
}

function matches(p: EndPattern, e: Endpoint): boolean {
  switch (p.kind) {
    case 'any':
      return true;
    case 'client':
      return e.kind === 'client';
    case 'replica':
      return e.kind === 'replica' && (p.shard === null || p.shard === e.shard) && (p.replica === null || p.replica === e.replica);
  }
}

/** The one-way delay in ms of a message from `from` to `to`. */
export function linkDelayMs(topology: Topology, from: Endpoint, to: Endpoint): number {
  const cls = linkClass(from, to);
  if (cls === null) return 0;
  for (let i = topology.rules.length - 1; i >= 0; i--) {
    const rule = topology.rules[i] as LinkRule;
    if (matches(rule.from, from) && matches(rule.to, to)) return rule.ms;
  }
  return topology.classes[cls];
}

/**
 * The delay function a transport of `self` applies to what it sends (a `LinkDelay`), memoised
 * per peer: it runs for every message.
 */
export function delayFrom(topology: Topology, self: Endpoint): (peer: Endpoint) => number {
  const memo = new Map<string, number>();
  return (peer) => {
    const key = peer.kind === 'replica' ? `r${peer.shard}.${peer.replica}` : peer.kind === 'client' ? `c:${peer.client}` : 'master';
    let ms = memo.get(key);
    if (ms === undefined) {
      ms = linkDelayMs(topology, self, peer);
      memo.set(key, ms);
    }
    return ms;
  };
}

/** A topology of class delays only. */
export function classTopology(classes: LinkDelaysMs): Topology {
  return { classes: { ...classes }, rules: [] };
}

/** True when no link is delayed. */
export function isZero(topology: Topology): boolean {
  return LINK_CLASSES.every((c) => topology.classes[c] === 0) && topology.rules.every((r) => r.ms === 0);
}

/** The largest one-way delay any link of each class can get (rules counted where they may apply). */
export function maxDelaysMs(topology: Topology): LinkDelaysMs {
  const max: LinkDelaysMs = { ...topology.classes };
  for (const rule of topology.rules) {
    for (const cls of LINK_CLASSES) {
      if (mayBeOfClass(rule, cls)) max[cls] = Math.max(max[cls], rule.ms);
    }
  }
  return max;
}

function mayBeOfClass(rule: LinkRule, cls: LinkClass): boolean {
  const canBe = (p: EndPattern, kind: 'client' | 'replica'): boolean => p.kind === 'any' || p.kind === kind;
  const replicas = canBe(rule.from, 'replica') && canBe(rule.to, 'replica');
  if (cls === 'clientLeader') return (canBe(rule.from, 'client') && canBe(rule.to, 'replica')) || (canBe(rule.from, 'replica') && canBe(rule.to, 'client'));
  if (!replicas) return false;
  const a = rule.from;
  const b = rule.to;
  if (a.kind !== 'replica' || b.kind !== 'replica' || a.shard === null || b.shard === null) return true;
  return cls === 'leaderReplica' ? a.shard === b.shard : a.shard !== b.shard;
}

// ---------------------------------------------------------------- the file format

const ID = String.raw`(\d{1,4}|\*)`;
const REPLICA_PATTERN = new RegExp(`^r${ID}\\.${ID}$`);

/** Parses `r0.1`, `r0.*`, `r*.*`, `client` or `*`; null when it is none of them. */
function parseEndPattern(text: string): EndPattern | null {
  if (text === '*') return { kind: 'any' };
  if (text === 'client') return { kind: 'client' };
  const m = REPLICA_PATTERN.exec(text);
  if (m === null) return null;
  const id = (s: string): number | null => (s === '*' ? null : Number(s));
  return { kind: 'replica', shard: id(m[1] as string), replica: id(m[2] as string) };
}

function delayField(where: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > 60_000) {
    throw new TopologyFileError(`${where}: expected a delay in ms from 0 to 60000, got ${JSON.stringify(value)}`);
  }
  return value;
}

function endField(where: string, value: unknown): EndPattern {
  const p = typeof value === 'string' ? parseEndPattern(value) : null;
  if (p === null) throw new TopologyFileError(`${where}: expected "r<shard>.<replica>" (numbers or *), "client" or "*", got ${JSON.stringify(value)}`);
  return p;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Reads a topology from the JSON text of `file` (named in errors). */
export function parseTopology(text: string, file: string): Topology {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new TopologyFileError(`${file}: not JSON: ${(err as Error).message}`);
  }
  if (!isObject(json)) throw new TopologyFileError(`${file}: expected a JSON object`);
  const known = new Set<string>([...LINK_CLASSES, 'links']);
  for (const field of Object.keys(json)) {
    if (!known.has(field)) throw new TopologyFileError(`${file}: unknown field "${field}" (expected ${[...known].join(', ')})`);
  }
  const classes: LinkDelaysMs = { clientLeader: 0, leaderLeader: 0, leaderReplica: 0 };
  for (const cls of LINK_CLASSES) if (json[cls] !== undefined) classes[cls] = delayField(`${file}: "${cls}"`, json[cls]);
  const links = json['links'] ?? [];
  if (!Array.isArray(links)) throw new TopologyFileError(`${file}: "links" must be an array`);
  const rules: LinkRule[] = [];
  links.forEach((link: unknown, i) => {
    const where = `${file}: links[${i}]`;
    if (!isObject(link)) throw new TopologyFileError(`${where}: expected an object`);
    const ms = delayField(`${where}.ms`, link['ms']);
    if (link['between'] !== undefined) {
      const between = link['between'];
      if (!Array.isArray(between) || between.length !== 2 || link['from'] !== undefined || link['to'] !== undefined) {
        throw new TopologyFileError(`${where}: expected "between": [end, end], or "from" and "to"`);
      }
      const a = endField(`${where}.between[0]`, between[0]);
      const b = endField(`${where}.between[1]`, between[1]);
      rules.push({ from: a, to: b, ms }, { from: b, to: a, ms });
    } else {
      rules.push({ from: endField(`${where}.from`, link['from']), to: endField(`${where}.to`, link['to']), ms });
    }
  });
  return { classes, rules };
}

/** Reads and parses a topology file. */
export function readTopologyFile(file: string): Topology {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new TopologyFileError(`cannot read the topology file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  return parseTopology(text, file);
}
