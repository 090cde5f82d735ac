/**
 * The few DER constructions that are hand-made, for two reasons: bytes that were already signed must
 * go out exactly as the HSM saw them (so they are spliced in, never re-encoded), and a CRL of a million
 * entries is encoded entry by entry into buffers rather than as a million schema objects.
 */
export function derLength(n: number): Uint8Array {
  const header = new Uint8Array(tlvSize(n) - n);
  writeTlvHeader(header, 0, 0, n);
  return header.subarray(1);
}

export function concatBytes(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

/** Bytes of a TLV whose content is `contentLength` long: tag, definite length (X.690 §8.1.3), content. */
export const tlvSize = (contentLength: number) => contentLength + (contentLength < 0x80 ? 2 : contentLength < 0x100 ? 3 : contentLength < 0x10000 ? 4 : contentLength < 0x1000000 ? 5 : 6); // below 2^32

/** Writes a tag and definite length into `out` at `at` (what derLength encodes); returns where the content starts. */
export function writeTlvHeader(out: Uint8Array, at: number, tag: number, contentLength: number): number {
  out[at++] = tag;
  if (contentLength < 0x80) {
    out[at++] = contentLength;
    return at;
  }
  const octets = tlvSize(contentLength) - contentLength - 2;
  out[at++] = 0x80 | octets;
  for (let i = octets - 1; i >= 0; i--) out[at++] = (contentLength >>> (8 * i)) & 0xff;
  return at;
}

export const tlv = (tag: number, content: Uint8Array) => concatBytes([Uint8Array.of(tag), derLength(content.length), content]);
/** Tag and length only, for content that is streamed after it. */
export const tlvHeader = (tag: number, contentLength: number) => concatBytes([Uint8Array.of(tag), derLength(contentLength)]);

export const derSequence = (...items: Uint8Array[]) => tlv(0x30, concatBytes(items));
/** BIT STRING with no unused bits, as signatures are (RFC 5280 §4.1.1.3). */
export const derBitString = (bytes: Uint8Array) => tlv(0x03, concatBytes([Uint8Array.of(0), bytes]));

/** A non-negative INTEGER from big-endian magnitude bytes, minimally encoded. */
export function derUnsignedInteger(magnitude: Uint8Array): Uint8Array {
  let start = 0;
  while (start < magnitude.length - 1 && magnitude[start] === 0) start++;
  const trimmed = magnitude.subarray(start);
  return tlv(0x02, trimmed[0]! & 0x80 ? concatBytes([Uint8Array.of(0), trimmed]) : trimmed);
}

const digits2 = (out: Uint8Array, at: number, n: number) => {
  out[at] = 0x30 + Math.floor(n / 10);
  out[at + 1] = 0x30 + (n % 10);
};

function encodeTime(date: Date, generalized: boolean): Uint8Array {
  const year = date.getUTCFullYear();
  if (year < 1000 || year > 9999) throw new Error(`year ${year} cannot be encoded as a certificate time`);
  const out = new Uint8Array(generalized ? 17 : 15);
  out[0] = generalized ? 0x18 : 0x17;
  out[1] = generalized ? 15 : 13;
  let at = 2;
  if (generalized) {
    digits2(out, at, Math.floor(year / 100));
    at += 2;
  }
  for (const n of [year % 100, date.getUTCMonth() + 1, date.getUTCDate(), date.getUTCHours(), date.getUTCMinutes(), date.getUTCSeconds()]) {
    digits2(out, at, n);
    at += 2;
  }
  out[at] = 0x5a; // 'Z'
  return out;
}

/**
 * RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050, always Zulu, no fractions. Written
 * straight into bytes: every certificate issued carries two of these.
 */
export function derTime(date: Date): Uint8Array {
  const year = date.getUTCFullYear();
  return encodeTime(date, !(year >= 1950 && year < 2050));
}

/** GeneralizedTime always (the OCSP times, RFC 6960 §4.2.1), Zulu, whole seconds (X.690 §11.7). */
export const derGeneralizedTime = (date: Date) => encodeTime(date, true);

/**
 * X.690 §11.6: the encodings of a SET OF's components appear in ascending order, compared as octet
 * strings, the shorter padded with trailing zero octets.
 */
export function compareDerSetComponents(a: Uint8Array, b: Uint8Array): number {
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a[i] ?? 0;
    const y = b[i] ?? 0;
    if (x !== y) return x - y;
  }
  return 0;
}

/** The components of a SET OF in DER order (a sorted copy). */
export const derSetOrder = (components: Uint8Array[]) => [...components].sort(compareDerSetComponents);
