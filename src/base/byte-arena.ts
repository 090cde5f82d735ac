/**
 * Small byte strings copied into shared slabs, for holding millions of them: a Buffer of its own costs
 * ~250 bytes of objects and bookkeeping on top of its bytes, and one object per string for the garbage
 * collector to trace. A string is held as (slab, offset, length); a slab is freed by the collector once
 * nothing refers to it, so strings replaced in roughly the order they were put (responses re-signed in
 * cycles) give their slabs back without compaction. Worst case, one live string keeps its slab: the
 * slabs are small (64 KiB) to bound that.
 */
export interface ArenaBytes {
  slab: Buffer;
  offset: number;
  length: number;
}

export function createByteArena(slabBytes = 64 * 1024) {
  let slab = Buffer.allocUnsafeSlow(slabBytes);
  let used = 0;
  return {
    put(bytes: Uint8Array): ArenaBytes {
      if (used + bytes.length > slab.length) {
        slab = Buffer.allocUnsafeSlow(Math.max(slabBytes, bytes.length));
        used = 0;
      }
      slab.set(bytes, used);
      const held = { slab, offset: used, length: bytes.length };
      used += bytes.length;
      return held;
    },
  };
}

/**
 * Short-lived buffers carved from large slabs: what Buffer.allocUnsafe does with its 8 KiB pool, with
 * slabs big enough that a stream of ~1 KiB answers (OCSP responses served from memory) does not
 * allocate a new ArrayBuffer every few answers, which the profile showed as a per-answer cost. Only for
 * buffers dropped soon after (written to a socket): one kept keeps its whole slab alive.
 */
export function createSlabAllocator(slabBytes = 256 * 1024) {
  let slab = Buffer.allocUnsafeSlow(slabBytes);
  let used = 0;
  return (length: number): Buffer => {
    if (used + length > slab.length) {
      slab = Buffer.allocUnsafeSlow(Math.max(slabBytes, length));
      used = 0;
    }
    const out = slab.subarray(used, used + length);
    used += length;
    return out;
  };
}
