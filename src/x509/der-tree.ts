/**
 * DER built as a tree and written once: each constructed value knows its content length as it is
 * made, and the whole is copied into one buffer at the end. The issuance hot path encodes a
 * TBSCertificate per certificate; concatenating at every level (der.ts's tlv) allocated a dozen
 * typed arrays per certificate and copied each byte once per nesting level.
 */
export interface DerNode {
  tag: number;
  parts: DerPart[];
  /** Content length: the parts' encoded sizes summed. */
  length: number;
}

/** Encoded bytes as they are, or a constructed value still to be written. */
export type DerPart = Uint8Array | DerNode;

const headerSize = (length: number) => (length < 0x80 ? 2 : length < 0x100 ? 3 : length < 0x10000 ? 4 : length < 0x1000000 ? 5 : 6);

const encodedSize = (part: DerPart): number => (part instanceof Uint8Array ? part.length : headerSize(part.length) + part.length);

/** TAG, LENGTH, then the parts in order (X.690 §8.1; definite length in the fewest octets, §10.1). */
export function derNode(tag: number, parts: DerPart[]): DerNode {
  let length = 0;
  for (const part of parts) length += encodedSize(part);
  return { tag, parts, length };
}

function writeInto(out: Uint8Array, offset: number, part: DerPart): number {
  if (part instanceof Uint8Array) {
    out.set(part, offset);
    return offset + part.length;
  }
  out[offset++] = part.tag;
  const n = part.length;
  if (n < 0x80) out[offset++] = n;
  else {
    const octets = headerSize(n) - 2;
    out[offset++] = 0x80 | octets;
    for (let i = octets - 1; i >= 0; i--) out[offset++] = (n >>> (8 * i)) & 0xff;
  }
  for (const child of part.parts) offset = writeInto(out, offset, child);
  return offset;
}

export function encodeDer(part: DerPart): Uint8Array {
  const out = new Uint8Array(encodedSize(part));
  writeInto(out, 0, part);
  return out;
}
