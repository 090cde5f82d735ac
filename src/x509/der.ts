/**
 * The three DER constructions needed to put a signature around bytes that were already signed: the
 * to-be-signed part must go out exactly as the HSM saw it, so it is spliced in, never re-encoded.
 */
function length(n: number): Uint8Array {
  if (n < 0x80) return Uint8Array.of(n);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Uint8Array.of(0x80 | bytes.length, ...bytes);
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

const tlv = (tag: number, content: Uint8Array) => concat([Uint8Array.of(tag), length(content.length), content]);

export const derSequence = (...items: Uint8Array[]) => tlv(0x30, concat(items));
/** BIT STRING with no unused bits, as signatures are (RFC 5280 §4.1.1.3). */
export const derBitString = (bytes: Uint8Array) => tlv(0x03, concat([Uint8Array.of(0), bytes]));
