import { randomBytes } from 'node:crypto';

/**
 * 128 random bits as a positive INTEGER of exactly 16 octets (RFC 5280 §4.1.2.2: positive, at most 20
 * octets; CA/B asks for at least 64 bits of randomness). The first octet is 0x01–0x7f: positive, and
 * never a leading zero that DER would have to strip.
 */
export function randomSerial(): Uint8Array {
  const bytes = new Uint8Array(randomBytes(16));
  bytes[0] = 1 + (bytes[0]! % 0x7f);
  return bytes;
}

export const serialToHex = (serial: Uint8Array) => Buffer.from(serial).toString('hex');

/** Accepts any case, with or without colons (CONTRACT.md); returns canonical lowercase hex. */
export function normalizeSerial(text: string): string | undefined {
  let hex = text.trim().replace(/:/g, '').toLowerCase();
  if (!/^[0-9a-f]+$/.test(hex) || hex.length > 42) return undefined;
  if (hex.length % 2) hex = '0' + hex;
  return hex;
}
