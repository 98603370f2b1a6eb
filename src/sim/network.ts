/**
 * The simulated network: per-link one-way delay (base plus jitter), loss, duplication and
 * reordering, partitions, and a temporary "degraded" overlay for fault windows. It only decides
 * what happens to a message; the simulator schedules the deliveries. All randomness comes from
 * the rng the simulator passes in, drawn in a fixed order per message.
 */
import { assert } from '../protocol/common/assert.js';
import type { Rng } from '../protocol/common/rng.js';

export interface LinkProfile {
  /** Fixed part of the one-way delay. */
  readonly delayMs: number;
  /** Uniform extra delay in [0, jitterMs]. */
  readonly jitterMs: number;
  /** Probability a message is lost. */
  readonly loss: number;
  /** Probability a message is delivered twice (the copy has its own delay). */
  readonly duplicate: number;
  /** Probability a message is held back by an extra delay in [1, reorderDelayMs]. */
  readonly reorder: number;
  readonly reorderDelayMs: number;
}

/** Link classes: between two replicas (of any shards), and anything with a client at one end. */
export type LinkClass = 'replica' | 'client';

export interface Degradation {
  readonly loss: number;
  readonly duplicate: number;
  readonly reorder: number;
}

/** Why a message did not arrive (counted per reason by the simulator). */
export type DropReason = 'loss' | 'partition' | 'down' | 'no_leader' | 'unsynced';

export const DEFAULT_LINK: LinkProfile = {
  delayMs: 1,
  jitterMs: 1,
  loss: 0,
  duplicate: 0,
  reorder: 0,
  reorderDelayMs: 10,
};

function checkProbability(p: number, name: string): void {
  assert(p >= 0 && p <= 1, `${name} must be a probability, got ${p}`);
}

function checkProfile(p: LinkProfile): void {
  for (const name of ['delayMs', 'jitterMs', 'reorderDelayMs'] as const) {
    assert(Number.isSafeInteger(p[name]) && p[name] >= 0, `${name} must be a whole number of ms >= 0, got ${p[name]}`);
  }
  checkProbability(p.loss, 'loss');
  checkProbability(p.duplicate, 'duplicate');
  checkProbability(p.reorder, 'reorder');
  assert(p.reorder === 0 || p.reorderDelayMs >= 1, 'reordering needs reorderDelayMs >= 1');
}

/** What the network does with one message: deliver copies after these delays, or drop it. */
export type Route = { readonly delaysMs: readonly number[] } | { readonly dropped: 'loss' | 'partition' };

const SELF_ROUTE: Route = { delaysMs: [0] };

export class Network {
  private readonly classes: Record<LinkClass, LinkProfile>;
  private readonly links = new Map<string, LinkProfile>();
  private readonly cuts = new Set<string>();
  private readonly isolated = new Set<string>();
  private groupOf = new Map<string, number>();
  private degradation: Degradation | null = null;

  constructor(classes: Record<LinkClass, LinkProfile>) {
    checkProfile(classes.replica);
    checkProfile(classes.client);
    this.classes = { ...classes };
  }

  /** Overrides the profile of the directed link `from → to` (node keys). */
  setLink(from: string, to: string, linkClass: LinkClass, profile: Partial<LinkProfile>): void {
    const merged = { ...this.profile(from, to, linkClass), ...profile };
    checkProfile(merged);
    this.links.set(`${from}>${to}`, merged);
  }

  profile(from: string, to: string, linkClass: LinkClass): LinkProfile {
    return this.links.size === 0 ? this.classes[linkClass] : (this.links.get(`${from}>${to}`) ?? this.classes[linkClass]);
  }

  /** Blocks `from → to` only: a one-way partition. */
  cut(from: string, to: string): void {
    this.cuts.add(`${from}>${to}`);
  }

  /** Blocks every link to and from `node`. */
  isolate(node: string): void {
    this.isolated.add(node);
  }

  /** Blocks every link between nodes of different groups; nodes in no group are unaffected. Replaces an earlier split. */
  split(groups: readonly (readonly string[])[]): void {
    const groupOf = new Map<string, number>();
    groups.forEach((group, g) => {
      for (const node of group) {
        assert(!groupOf.has(node), `${node} is in two groups of a split`);
        groupOf.set(node, g);
      }
    });
    this.groupOf = groupOf;
  }

  /** Removes every partition (cuts, isolations and splits). */
  heal(): void {
    this.cuts.clear();
    this.isolated.clear();
    this.groupOf = new Map();
  }

  get partitioned(): boolean {
    return this.cuts.size > 0 || this.isolated.size > 0 || this.groupOf.size > 0;
  }

  /** Raises every link's loss, duplication and reordering to at least these values until `restore`. */
  degrade(d: Degradation): void {
    checkProbability(d.loss, 'loss');
    checkProbability(d.duplicate, 'duplicate');
    checkProbability(d.reorder, 'reorder');
    this.degradation = d;
  }

  restore(): void {
    this.degradation = null;
  }

  get degraded(): boolean {
    return this.degradation !== null;
  }

  blocked(from: string, to: string): boolean {
    if (from === to || !this.partitioned) return false;
    if (this.isolated.has(from) || this.isolated.has(to)) return true;
    const gFrom = this.groupOf.get(from);
    const gTo = this.groupOf.get(to);
    if (gFrom !== undefined && gTo !== undefined && gFrom !== gTo) return true;
    return this.cuts.has(`${from}>${to}`);
  }

  /** Decides the fate of one message. A node's messages to itself are loopback: instant and never lost. */
  route(from: string, to: string, linkClass: LinkClass, rng: Rng): Route {
    if (from === to) return SELF_ROUTE;
    if (this.blocked(from, to)) return { dropped: 'partition' };
    const p = this.profile(from, to, linkClass);
    const d = this.degradation;
    const loss = d === null ? p.loss : Math.max(p.loss, d.loss);
    if (loss > 0 && rng.chance(loss)) return { dropped: 'loss' };
    const duplicate = d === null ? p.duplicate : Math.max(p.duplicate, d.duplicate);
    const reorder = d === null ? p.reorder : Math.max(p.reorder, d.reorder);
    const reorderDelayMs = Math.max(p.reorderDelayMs, 1);
    const first = this.delay(p, reorder, reorderDelayMs, rng);
    if (duplicate > 0 && rng.chance(duplicate)) {
      return { delaysMs: [first, this.delay(p, reorder, reorderDelayMs, rng)] };
    }
    return { delaysMs: [first] };
  }

  private delay(p: LinkProfile, reorder: number, reorderDelayMs: number, rng: Rng): number {
    let ms = p.delayMs;
    if (p.jitterMs > 0) ms += rng.int(p.jitterMs + 1);
    if (reorder > 0 && rng.chance(reorder)) ms += rng.range(1, reorderDelayMs);
    return ms;
  }
}
