/**
 * Many small byte strings as one buffer and their end offsets, so that a batch crosses to a worker
 * thread as one transferred ArrayBuffer. Structured cloning a list of Uint8Arrays instead copies each
 * one's whole backing store, and a Buffer decoded from base64 shares Node's 8 KiB pool slab.
 */
export interface PackedBytes {
  bytes: Uint8Array;
  ends: Uint32Array;
}

export function packBytes(items: Uint8Array[]): PackedBytes {
  const ends = new Uint32Array(items.length);
  let total = 0;
  items.forEach((item, i) => (ends[i] = total += item.length));
  const bytes = new Uint8Array(total);
  items.forEach((item, i) => bytes.set(item, i === 0 ? 0 : ends[i - 1]!));
  return { bytes, ends };
}

/** Views into the packed buffer (no copies). */
export function unpackBytes({ bytes, ends }: PackedBytes): Uint8Array[] {
  return Array.from(ends, (end, i) => bytes.subarray(i === 0 ? 0 : ends[i - 1]!, end));
}

/** What to transfer rather than copy when posting a PackedBytes. */
export const transferOf = (packed: PackedBytes): ArrayBuffer[] => [packed.bytes.buffer as ArrayBuffer, packed.ends.buffer as ArrayBuffer];

const packed = (items: Uint8Array[]) => {
  const payload = packBytes(items);
  return { payload, transfer: transferOf(payload) };
};

/** Byte strings in, byte strings out, packed both ways: the main thread's side (see WorkerCodec). */
export const packedBytesCodec = { encode: packed, decodeResults: (payload: unknown) => unpackBytes(payload as PackedBytes) };
/** The worker's side of packedBytesCodec. */
export const packedBytesWorkerCodec = { decode: (payload: unknown) => unpackBytes(payload as PackedBytes), encodeResults: packed };
