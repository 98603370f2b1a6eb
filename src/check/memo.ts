/**
 * The set of search states already explored, kept as 96-bit fingerprints in one open-addressing
 * table of typed arrays: 12 bytes per state (24 at the worst load), no per-entry objects for the
 * garbage collector to trace. Two different states share a fingerprint with probability about
 * 2^-95 per pair, which would only ever make the search skip a state (never accept a bad order:
 * every witness is replayed before it is believed).
 */
export class FingerprintSet {
  private table: Uint32Array;
  private mask: number;
  private count = 0;

  constructor(capacityLog2 = 10) {
    this.table = new Uint32Array(3 << capacityLog2);
    this.mask = (1 << capacityLog2) - 1;
  }

  get size(): number {
    return this.count;
  }

  /** Bytes the table holds now. */
  get bytes(): number {
    return this.table.byteLength;
  }

  /** True when the next add may double the table. */
  get fullBeforeGrowth(): boolean {
    return (this.count + 1) * 2 > this.mask + 1;
  }

  /** Bytes it would hold after its next growth. */
  get bytesAfterGrowth(): number {
    return this.table.byteLength * 2;
  }

  /** Adds the fingerprint; false when it was already there. `c` is made odd so no entry is all zeros. */
  add(a: number, b: number, c: number): boolean {
    if (this.fullBeforeGrowth) this.grow();
    return this.insert(this.table, this.mask, a >>> 0, b >>> 0, (c | 1) >>> 0);
  }

  private insert(table: Uint32Array, mask: number, a: number, b: number, c: number): boolean {
    let slot = (a ^ Math.imul(b, 0x9e3779b1)) & mask;
    for (;;) {
      const at = slot * 3;
      const tc = table[at + 2] as number;
      if (tc === 0) {
        table[at] = a;
        table[at + 1] = b;
        table[at + 2] = c;
        this.count++;
        return true;
      }
      if (tc === c && table[at] === a && table[at + 1] === b) return false;
      slot = (slot + 1) & mask;
    }
  }

  private grow(): void {
    const old = this.table;
    const mask = this.mask * 2 + 1;
    const table = new Uint32Array((mask + 1) * 3);
    this.count = 0;
    for (let at = 0; at < old.length; at += 3) {
      const c = old[at + 2] as number;
      if (c !== 0) this.insert(table, mask, old[at] as number, old[at + 1] as number, c);
    }
    this.table = table;
    this.mask = mask;
  }
}
