import { derSequence, derUnsignedInteger } from '../x509/der.js';

/**
 * PKCS#11 CKM_ECDSA returns r‖s, each the curve's size; X.509 carries ECDSA-Sig-Value
 * ::= SEQUENCE { r INTEGER, s INTEGER } (RFC 5480 §2.2, RFC 3279 §2.2.3), minimally encoded.
 */
export function ecdsaRawToDer(raw: Uint8Array): Uint8Array {
  const half = raw.length / 2;
  return derSequence(derUnsignedInteger(raw.subarray(0, half)), derUnsignedInteger(raw.subarray(half)));
}
