/**
 * Small byte strings copied into shared slabs, for holding millions of them: a Buffer of its own costs
 * ~250 bytes of objects and bookkeeping on top of its bytes, and one object per string for the garbage
 * collector to trace. A string is named by numbers (slab id, offset, length) that the caller keeps, in
 * typed arrays where it holds many, so that a million strings are not a million objects either.
 *
 * Slabs are counted: each string put adds one to its slab, each string let go (`release`) takes one, and
 * a slab that holds no string any more is dropped and its id reused. Strings replaced in roughly the order
 * they were put (responses re-signed in cycles) give their slabs back without compaction. Worst case, one
 * live string keeps its slab: the slabs are small (64 KiB) to bound that.
 */
export function createByteArena(slabBytes = 64 * 1024) {
  const slabs: (Buffer | undefined)[] = [];
  const counts: number[] = [];
  const freeIds: number[] = [];
  let current = -1;
  let used = 0;

  function drop(id: number): void {
    slabs[id] = undefined;
    freeIds.push(id);
  }

  function startSlab(size: number): void {
    if (current >= 0 && counts[current] === 0) drop(current);
    current = freeIds.pop() ?? slabs.length;
    slabs[current] = Buffer.allocUnsafeSlow(size);
    counts[current] = 0;
    used = 0;
  }

  return {
    /** Room for `length` bytes, filled by `write` (at `start` of `into`): where they now are. */
    put(length: number, write: (into: Buffer, start: number) => void): { slab: number; offset: number } {
      if (current < 0 || used + length > slabs[current]!.length) startSlab(Math.max(slabBytes, length));
      write(slabs[current]!, used);
      const at = { slab: current, offset: used };
      used += length;
      counts[current]!++;
      return at;
    },
    /** A string put in `slab` is no longer held. */
    release(slab: number): void {
      if (--counts[slab]! === 0 && slab !== current) drop(slab);
    },
    /** The slab itself, to read a string in place without making a view of it. */
    slab: (slab: number): Buffer => slabs[slab]!,
    /** The bytes held there (a view, no copy). */
    view(slab: number, offset: number, length: number): Buffer {
      return slabs[slab]!.subarray(offset, offset + length);
    },
    /** Slabs allocated now (what the held strings cost, in slabBytes each). */
    slabsHeld: () => slabs.length - freeIds.length,
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
