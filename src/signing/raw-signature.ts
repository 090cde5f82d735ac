import { children, content, readTlv } from '../x509/der-reader.js';

/**
 * ECDSA-Sig-Value (DER, as the token's signer returns it) → r‖s, each the curve's size: the fixed-size
 * form boot loaders and IEEE P1363 verifiers read.
 */
export function ecdsaDerToRaw(der: Uint8Array, curveBytes: number): Uint8Array {
  const out = new Uint8Array(curveBytes * 2);
  children(der, readTlv(der, 0)).forEach((integer, i) => {
    let value = content(der, integer);
    while (value.length > curveBytes && value[0] === 0) value = value.subarray(1);
    out.set(value, (i + 1) * curveBytes - value.length);
  });
  return out;
}
