import { AsnConvert } from '@peculiar/asn1-schema';
import { ECDSASigValue } from '@peculiar/asn1-ecc';
import { exactBuffer } from '../x509/bytes.js';

/**
 * PKCS#11 CKM_ECDSA returns r‖s, each the curve's size; X.509 carries ECDSA-Sig-Value
 * ::= SEQUENCE { r INTEGER, s INTEGER } (RFC 5480 §2.2, RFC 3279 §2.2.3).
 */
export function ecdsaRawToDer(raw: Uint8Array): Uint8Array {
  const half = raw.length / 2;
  const integer = (bytes: Uint8Array) => {
    let start = 0;
    while (start < bytes.length - 1 && bytes[start] === 0) start++;
    const trimmed = bytes.subarray(start);
    return exactBuffer(trimmed[0]! & 0x80 ? Uint8Array.from([0, ...trimmed]) : trimmed);
  };
  const value = new ECDSASigValue({ r: integer(raw.subarray(0, half)), s: integer(raw.subarray(half)) });
  return new Uint8Array(AsnConvert.serialize(value));
}
