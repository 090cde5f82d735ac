import { createHash } from 'node:crypto';
import { children, content, expectTag, oidText, readTlv, whole } from './der-reader.js';

const ID_EC = '1.2.840.10045.2.1';
const ID_RSA = '1.2.840.113549.1.1.1';

const withoutLeadingZeros = (bytes: Uint8Array) => {
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0) i++;
  return bytes.subarray(i);
};

/**
 * The identity of a public key, whatever its encoding: SHA-256 of its mathematical content. An RSA key
 * is its modulus (another exponent on the same modulus is the same factorization); an EC key its curve,
 * X coordinate and the parity of Y, so that the same point sent compressed or uncompressed is the same
 * key; any other key its whole SubjectPublicKeyInfo. Read with the DER walker: this runs for every
 * certificate issued, where a JWK export through OpenSSL is far slower.
 */
export function publicKeyId(spkiDer: Uint8Array): string {
  const spki = expectTag(readTlv(spkiDer, 0), 0x30, 'SubjectPublicKeyInfo');
  const [algorithm, bits] = children(spkiDer, spki);
  const [oidTlv, params] = children(spkiDer, expectTag(algorithm, 0x30, 'algorithm'));
  const oid = oidText(content(spkiDer, expectTag(oidTlv, 0x06, 'algorithm')));
  const key = content(spkiDer, expectTag(bits, 0x03, 'subjectPublicKey')).subarray(1);
  const hash = createHash('sha256');
  if (oid === ID_RSA) {
    const [modulus] = children(key, expectTag(readTlv(key, 0), 0x30, 'RSAPublicKey'));
    hash.update('rsa:').update(withoutLeadingZeros(content(key, expectTag(modulus, 0x02, 'modulus'))));
  } else if (oid === ID_EC && params?.tag === 0x06 && (key[0] === 0x04 || key[0] === 0x02 || key[0] === 0x03)) {
    // SEC 1 §2.3.3: 04 ‖ X ‖ Y, or 02/03 ‖ X with the parity of Y in the prefix.
    const compressed = key[0] !== 0x04;
    const size = compressed ? key.length - 1 : (key.length - 1) / 2;
    const x = key.subarray(1, 1 + size);
    const yOdd = compressed ? key[0] === 0x03 : (key[key.length - 1]! & 1) === 1;
    hash.update(`ec:${oidText(content(spkiDer, params))}:`).update(x).update(yOdd ? ':1' : ':0');
  } else {
    hash.update('spki:').update(whole(spkiDer, spki));
  }
  return hash.digest('hex');
}
