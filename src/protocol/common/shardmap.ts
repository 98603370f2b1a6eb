/**
 * Which shard a key lives on: FNV-1a (32-bit) of the key's UTF-8 bytes, modulo the shard count.
 * Stable across processes, machines and versions; never change it, or data moves.
 */
export function keyHash(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    let c = key.charCodeAt(i);
    if (c < 0x80) {
      h = Math.imul(h ^ c, 0x01000193);
      continue;
    }
    // Encode the code point as UTF-8 so the hash depends on bytes, not on UTF-16 units.
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < key.length) {
      const lo = key.charCodeAt(i + 1);
      if (lo >= 0xdc00 && lo <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (lo - 0xdc00);
        i++;
      }
    }
    const bytes =
      c < 0x800
        ? [0xc0 | (c >> 6), 0x80 | (c & 63)]
        : c < 0x10000
          ? [0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63)]
          : [0xf0 | (c >> 18), 0x80 | ((c >> 12) & 63), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63)];
    for (const b of bytes) h = Math.imul(h ^ b, 0x01000193);
  }
  return h >>> 0;
}

export function shardOf(key: string, shards: number): number {
  // Every key lives on the only shard: no need to hash it (on the path of every operation).
  return shards === 1 ? 0 : keyHash(key) % shards;
}
