import { randomFillSync } from 'node:crypto';

/**
 * CSPRNG output drawn 4 KiB at a time (as node:crypto's randomUUID does): a batch of thousands of
 * serials costs one call into OpenSSL per 256 serials instead of one each. Bytes are used once and
 * wiped as they are taken.
 */
const entropy = new Uint8Array(4096);
let taken = entropy.length;

/**
 * 128 random bits as a positive INTEGER of exactly 16 octets (RFC 5280 §4.1.2.2: positive, at most 20
 * octets; CA/B asks for at least 64 bits of randomness). The first octet is 0x01–0x7f: positive, and
 * never a leading zero that DER would have to strip.
 */
export function randomSerial(): Uint8Array {
  if (taken + 16 > entropy.length) {
    randomFillSync(entropy);
    taken = 0;
  }
  const bytes = entropy.slice(taken, taken + 16);
  entropy.fill(0, taken, (taken += 16));
  bytes[0] = 1 + (bytes[0]! % 0x7f);
  return bytes;
}

export const serialToHex = (serial: Uint8Array) => Buffer.from(serial).toString('hex');

/** Accepts any case, with or without colons, as the CLI and REST API accept them; returns canonical lowercase hex. */
export function normalizeSerial(text: string): string | undefined {
  let hex = text.trim().replace(/:/g, '').toLowerCase();
  if (!/^[0-9a-f]+$/.test(hex) || hex.length > 42) return undefined;
  if (hex.length % 2) hex = '0' + hex;
  return hex;
}
