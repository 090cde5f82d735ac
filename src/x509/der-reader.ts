/**
 * A minimal DER walker for the issuance hot path: it only finds tag/length boundaries, so exact bytes
 * (a CSR's CertificationRequestInfo, its SubjectPublicKeyInfo) can be sliced out and verified as they
 * were signed. Anything that needs interpretation beyond that still goes through @peculiar/asn1-*.
 * Throws on anything that is not definite-length DER within bounds (BER indefinite lengths, long
 * tags, lengths past the end).
 */
export interface Tlv {
  tag: number;
  /** Offset of the tag byte. */
  start: number;
  /** Offset of the first content byte. */
  contentStart: number;
  /** Offset just past the content. */
  end: number;
}

export class DerError extends Error {}

export function readTlv(bytes: Uint8Array, offset: number, limit = bytes.length): Tlv {
  if (offset + 2 > limit) throw new DerError(`truncated DER at offset ${offset}`);
  const tag = bytes[offset]!;
  if ((tag & 0x1f) === 0x1f) throw new DerError(`multi-byte tag at offset ${offset}`);
  let length = bytes[offset + 1]!;
  let contentStart = offset + 2;
  if (length & 0x80) {
    const octets = length & 0x7f;
    if (octets === 0) throw new DerError(`indefinite length at offset ${offset} (BER, not DER)`);
    if (octets > 4) throw new DerError(`length of ${octets} octets at offset ${offset}`);
    if (contentStart + octets > limit) throw new DerError(`truncated length at offset ${offset}`);
    length = 0;
    for (let i = 0; i < octets; i++) length = length * 256 + bytes[contentStart + i]!;
    // DER: the shortest form (X.690 §10.1).
    if (length < 0x80 || bytes[contentStart] === 0) throw new DerError(`non-minimal length at offset ${offset}`);
    contentStart += octets;
  }
  const end = contentStart + length;
  if (end > limit) throw new DerError(`content at offset ${offset} runs past its container`);
  return { tag, start: offset, contentStart, end };
}

/** The elements inside a constructed TLV, in order. */
export function children(bytes: Uint8Array, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let offset = parent.contentStart; offset < parent.end; ) {
    const child = readTlv(bytes, offset, parent.end);
    out.push(child);
    offset = child.end;
  }
  return out;
}

export function expectTag(tlv: Tlv | undefined, tag: number, what: string): Tlv {
  if (!tlv || tlv.tag !== tag) throw new DerError(`${what}: expected tag 0x${tag.toString(16)}, found ${tlv ? `0x${tlv.tag.toString(16)}` : 'nothing'}`);
  return tlv;
}

export const whole = (bytes: Uint8Array, tlv: Tlv) => bytes.subarray(tlv.start, tlv.end);
export const content = (bytes: Uint8Array, tlv: Tlv) => bytes.subarray(tlv.contentStart, tlv.end);

/** Dotted text of an OBJECT IDENTIFIER's content octets (X.690 §8.19). */
export function oidText(value: Uint8Array): string {
  if (!value.length) throw new DerError('empty OBJECT IDENTIFIER');
  const parts: number[] = [];
  let acc = 0;
  for (const byte of value) {
    acc = acc * 128 + (byte & 0x7f);
    if (!(byte & 0x80)) {
      parts.push(acc);
      acc = 0;
    }
  }
  if (value[value.length - 1]! & 0x80) throw new DerError('truncated OBJECT IDENTIFIER');
  const first = parts.shift()!;
  const head = first < 40 ? [0, first] : first < 80 ? [1, first - 40] : [2, first - 80];
  return [...head, ...parts].join('.');
}
