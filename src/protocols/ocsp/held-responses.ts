import { createByteArena } from '../../base/byte-arena.js';

/** What is known of a held response besides its bytes. */
export interface HeldTimes {
  issuer: string;
  responder: string;
  statusChangedAt: number;
  thisUpdate: number;
  nextUpdate: number;
}

/** FNV-1a over a serial's hex digits: the slot a row's key starts its probe from. */
function hashOf(serial: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < serial.length; i++) h = Math.imul(h ^ serial.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/**
 * Signed responses by certificate serial, for millions of certificates, with no object per response
 * for the garbage collector to trace: each row's serial (as its hex digits) and signed bytes are one
 * string in a counted arena (base/byte-arena.ts), its times and names are typed-array columns, and the
 * index is an open-addressing hash table (linear probing, deletion by backward shift) in a typed array.
 * At ten million responses a Map of one record each made a heap whose full collections paused the
 * process for seconds; here a collection's work does not grow with the responses held
 * (docs/performance.md, `npm run bench:held`). Rows are reused once let go.
 */
export function createHeldResponses() {
  const arena = createByteArena();
  // CA and responder names: a handful, each held once and named by its index.
  const names: string[] = [];
  const nameIds = new Map<string, number>();
  const idOf = (name: string) => nameIds.get(name) ?? (nameIds.set(name, names.length), names.push(name) - 1);

  let capacity = 0;
  let slab = new Int32Array(0);
  let offset = new Int32Array(0);
  let keyLength = new Int32Array(0); // -1: the row is free
  let length = new Int32Array(0);
  let hash = new Int32Array(0);
  let issuer = new Int32Array(0);
  let responder = new Int32Array(0);
  let statusChangedAt = new Float64Array(0);
  let thisUpdate = new Float64Array(0);
  let nextUpdate = new Float64Array(0);
  let rowsUsed = 0; // rows ever handed out; those below it not in freeRows are live
  const freeRows: number[] = [];
  const live = () => rowsUsed - freeRows.length;
  // The index: row + 1 per slot, 0 for empty; at most half full.
  let slots = new Int32Array(16);
  let mask = 15;

  function growRows(): void {
    // By half again, not double: at ten million rows the columns are ~480 MiB, and a doubling would leave
    // as much again unused.
    capacity = Math.max(1024, Math.ceil(capacity * 1.5));
    const widen = <T extends Int32Array | Float64Array>(old: T): T => {
      const next = new (old.constructor as new (length: number) => T)(capacity);
      next.set(old);
      return next;
    };
    [slab, offset, keyLength, length, hash, issuer, responder] = [slab, offset, keyLength, length, hash, issuer, responder].map(widen);
    [statusChangedAt, thisUpdate, nextUpdate] = [statusChangedAt, thisUpdate, nextUpdate].map(widen);
  }

  function place(row: number): void {
    let at = hash[row]! & mask;
    while (slots[at] !== 0) at = (at + 1) & mask;
    slots[at] = row + 1;
  }

  function growSlots(): void {
    slots = new Int32Array(slots.length * 2);
    mask = slots.length - 1;
    for (let row = 0; row < rowsUsed; row++) if (keyLength[row]! >= 0) place(row);
  }

  /** The slot holding `serial`'s row, or -1. */
  function slotOf(serial: string, h: number): number {
    for (let at = h & mask; ; at = (at + 1) & mask) {
      const entry = slots[at]!;
      if (entry === 0) return -1;
      const row = entry - 1;
      if (hash[row] === (h | 0) && keyLength[row] === serial.length && sameKey(row, serial)) return at;
    }
  }

  function sameKey(row: number, serial: string): boolean {
    const bytes = arena.slab(slab[row]!);
    const start = offset[row]!;
    for (let i = 0; i < serial.length; i++) if (bytes[start + i] !== serial.charCodeAt(i)) return false;
    return true;
  }

  /** Empties slot `at`, moving later entries of its probe run back so that no lookup stops short. */
  function unslot(at: number): void {
    let hole = at;
    for (let next = (at + 1) & mask; slots[next] !== 0; next = (next + 1) & mask) {
      const home = hash[slots[next]! - 1]! & mask;
      // The entry at `next` may fill the hole if its home is not in the circular range (hole, next].
      const reachable = hole <= next ? home > hole && home <= next : home > hole || home <= next;
      if (!reachable) {
        slots[hole] = slots[next]!;
        hole = next;
      }
    }
    slots[hole] = 0;
  }

  function letGo(at: number): void {
    const row = slots[at]! - 1;
    unslot(at);
    arena.release(slab[row]!);
    keyLength[row] = -1;
    freeRows.push(row);
  }

  const rowOf = (serial: string): number => {
    const at = slotOf(serial, hashOf(serial));
    return at < 0 ? -1 : slots[at]! - 1;
  };

  return {
    size: live,
    /** The times held for `serial`'s response, or undefined. */
    times(serial: string): HeldTimes | undefined {
      const row = rowOf(serial);
      if (row < 0) return undefined;
      return { issuer: names[issuer[row]!]!, responder: names[responder[row]!]!, statusChangedAt: statusChangedAt[row]!, thisUpdate: thisUpdate[row]!, nextUpdate: nextUpdate[row]! };
    },
    /**
     * The response for `serial` if one is held for `ca` and valid at `now`: its bytes (a view of the
     * arena, to be copied before anything else is put) and its times. The hot path: nothing allocated
     * but the view and the answer's own object.
     */
    valid(serial: string, ca: string, now: number): { bytes: Buffer; responder: string; thisUpdate: number; nextUpdate: number } | undefined {
      const row = rowOf(serial);
      if (row < 0 || nextUpdate[row]! <= now || names[issuer[row]!] !== ca) return undefined;
      const keyed = keyLength[row]!;
      return { bytes: arena.view(slab[row]!, offset[row]! + keyed, length[row]!), responder: names[responder[row]!]!, thisUpdate: thisUpdate[row]!, nextUpdate: nextUpdate[row]! };
    },
    /** Holds `signed` for `serial` (hex digits), in place of what was held. */
    set(serial: string, signed: Uint8Array, times: HeldTimes): void {
      const h = hashOf(serial);
      const held = slotOf(serial, h);
      if (held >= 0) letGo(held);
      if (!freeRows.length && rowsUsed >= capacity) growRows();
      const row = freeRows.pop() ?? rowsUsed++;
      // The key and the response as one string in the arena: one slab count per row.
      const key = Buffer.from(serial, 'latin1');
      const at = arena.put(key.length + signed.length, (into, start) => {
        into.set(key, start);
        into.set(signed, start + key.length);
      });
      slab[row] = at.slab;
      offset[row] = at.offset;
      keyLength[row] = key.length;
      length[row] = signed.length;
      hash[row] = h;
      issuer[row] = idOf(times.issuer);
      responder[row] = idOf(times.responder);
      statusChangedAt[row] = times.statusChangedAt;
      thisUpdate[row] = times.thisUpdate;
      nextUpdate[row] = times.nextUpdate;
      if (live() * 2 > slots.length) growSlots();
      else place(row);
    },
    delete(serial: string): void {
      const at = slotOf(serial, hashOf(serial));
      if (at >= 0) letGo(at);
    },
    /** Lets go of every response whose nextUpdate is at or before `now`: never served again. */
    deleteExpired(now: number): void {
      for (let row = 0; row < rowsUsed; row++) {
        if (keyLength[row]! < 0 || nextUpdate[row]! > now) continue;
        let at = hash[row]! & mask;
        while (slots[at] !== row + 1) at = (at + 1) & mask;
        letGo(at);
      }
    },
    /** Arena slabs held now (for tests and the bench: what the bytes cost). */
    slabsHeld: () => arena.slabsHeld(),
  };
}
