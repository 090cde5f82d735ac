/**
 * PKCS#11 CKM_ECDSA returns r‖s, each the curve's size; X.509 carries ECDSA-Sig-Value
 * ::= SEQUENCE { r INTEGER, s INTEGER } (RFC 5480 §2.2, RFC 3279 §2.2.3), minimally encoded.
 * Written byte by byte: it runs once per certificate on the signing path.
 */
export function ecdsaRawToDer(raw: Uint8Array): Uint8Array {
  const half = raw.length / 2;
  const bounds = (from: number) => {
    let start = from;
    while (start < from + half - 1 && raw[start] === 0) start++;
    return { start, end: from + half, pad: raw[start]! & 0x80 ? 1 : 0 };
  };
  const r = bounds(0);
  const s = bounds(half);
  const rLength = r.end - r.start + r.pad;
  const sLength = s.end - s.start + s.pad;
  const body = 4 + rLength + sLength; // P-521 stays below 128 + 128 octets: lengths fit one octet, but the sequence may not
  const header = body < 0x80 ? 2 : 3;
  const out = new Uint8Array(header + body);
  let o = 0;
  out[o++] = 0x30;
  if (header === 3) out[o++] = 0x81;
  out[o++] = body;
  for (const [part, length] of [[r, rLength], [s, sLength]] as const) {
    out[o++] = 0x02;
    out[o++] = length;
    if (part.pad) out[o++] = 0;
    out.set(raw.subarray(part.start, part.end), o);
    o += part.end - part.start;
  }
  return out;
}
