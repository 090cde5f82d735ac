/**
 * An ArrayBuffer holding exactly these bytes. Never `bytes.buffer` or `bytes.slice().buffer`: a
 * Node Buffer is often a view into a shared 8 KiB pool, and its `.buffer` (even after `.slice()`,
 * which for Buffers does not copy) is that whole pool — encoding it would leak process memory
 * into a certificate.
 */
export function exactBuffer(bytes: Uint8Array): ArrayBuffer {
  return new Uint8Array(bytes).buffer as ArrayBuffer;
}
