import { createByteArena } from '../../base/byte-arena.js';

/** What is known of a held response besides its bytes. */
export interface HeldTimes {
  issuer: string;
  responder: string;
  statusChangedAt: number;
  thisUpdate: number;
  nextUpdate: number;
}

/**
 * Signed responses by certificate serial, for millions of certificates: the bytes in a counted arena
 * (base/byte-arena.ts) and everything else in typed-array columns, a row per response, so that what the
 * garbage collector traces per response is the serial's string and its map entry, not a record, its
 * boxed numbers and a Buffer. At ten million responses the objects of one record each made a heap whose
 * full collections paused the process for seconds (docs/performance.md). Rows are reused once let go.
 */
export function createHeldResponses() {
  const rowOf = new Map<string, number>();
  const arena = createByteArena();
  // CA and responder names: a handful, each held once and named by its index.
  const names: string[] = [];
  const nameIds = new Map<string, number>();
  const idOf = (name: string) => nameIds.get(name) ?? (nameIds.set(name, names.length), names.push(name) - 1);

  let capacity = 0;
  let slab = new Int32Array(0);
  let offset = new Int32Array(0);
  let length = new Int32Array(0);
  let issuer = new Int32Array(0);
  let responder = new Int32Array(0);
  let statusChangedAt = new Float64Array(0);
  let thisUpdate = new Float64Array(0);
  let nextUpdate = new Float64Array(0);
  const freeRows: number[] = [];

  function grow(): void {
    // By half again, not double: at ten million rows the columns are ~440 MiB, and a doubling would leave
    // as much again unused.
    capacity = Math.max(1024, Math.ceil(capacity * 1.5));
    const wider = <T extends Int32Array | Float64Array>(old: T, make: (n: number) => T): T => {
      const next = make(capacity);
      next.set(old);
      return next;
    };
    const ints = (n: number) => new Int32Array(n);
    const floats = (n: number) => new Float64Array(n);
    [slab, offset, length, issuer, responder] = [slab, offset, length, issuer, responder].map((column) => wider(column, ints));
    [statusChangedAt, thisUpdate, nextUpdate] = [statusChangedAt, thisUpdate, nextUpdate].map((column) => wider(column, floats));
  }

  function letGo(serial: string, row: number): void {
    arena.release(slab[row]!);
    rowOf.delete(serial);
    freeRows.push(row);
  }

  return {
    size: () => rowOf.size,
    /** The times held for `serial`'s response, or undefined. */
    times(serial: string): HeldTimes | undefined {
      const row = rowOf.get(serial);
      if (row === undefined) return undefined;
      return { issuer: names[issuer[row]!]!, responder: names[responder[row]!]!, statusChangedAt: statusChangedAt[row]!, thisUpdate: thisUpdate[row]!, nextUpdate: nextUpdate[row]! };
    },
    /**
     * The response for `serial` if one is held for `ca` and valid at `now`: its bytes (a view of the
     * arena, to be copied before anything else is put) and its times. The hot path: nothing allocated
     * but the view and the answer's own object.
     */
    valid(serial: string, ca: string, now: number): { bytes: Buffer; responder: string; thisUpdate: number; nextUpdate: number } | undefined {
      const row = rowOf.get(serial);
      if (row === undefined || nextUpdate[row]! <= now || names[issuer[row]!] !== ca) return undefined;
      return { bytes: arena.view(slab[row]!, offset[row]!, length[row]!), responder: names[responder[row]!]!, thisUpdate: thisUpdate[row]!, nextUpdate: nextUpdate[row]! };
    },
    /** Holds `signed` for `serial`, in place of what was held. */
    set(serial: string, signed: Uint8Array, times: HeldTimes): void {
      const held = rowOf.get(serial);
      if (held !== undefined) letGo(serial, held);
      if (!freeRows.length && rowOf.size >= capacity) grow();
      const row = freeRows.pop() ?? rowOf.size;
      const at = arena.put(signed);
      slab[row] = at.slab;
      offset[row] = at.offset;
      length[row] = signed.length;
      issuer[row] = idOf(times.issuer);
      responder[row] = idOf(times.responder);
      statusChangedAt[row] = times.statusChangedAt;
      thisUpdate[row] = times.thisUpdate;
      nextUpdate[row] = times.nextUpdate;
      rowOf.set(serial, row);
    },
    delete(serial: string): void {
      const row = rowOf.get(serial);
      if (row !== undefined) letGo(serial, row);
    },
    /** Lets go of every response whose nextUpdate is at or before `now`: never served again. */
    deleteExpired(now: number): void {
      for (const [serial, row] of rowOf) if (nextUpdate[row]! <= now) letGo(serial, row);
    },
    /** Arena slabs held now (for tests and the bench: what the bytes cost). */
    slabsHeld: () => arena.slabsHeld(),
  };
}
