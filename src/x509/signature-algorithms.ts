import { AlgorithmIdentifier } from '@peculiar/asn1-x509';
import { id_ecdsaWithSHA256, id_ecdsaWithSHA384 } from '@peculiar/asn1-ecc';
import { id_sha256WithRSAEncryption } from '@peculiar/asn1-rsa';
import type { CaKeyType } from './key-types.js';
import { exactBuffer } from './bytes.js';

export type HashName = 'sha256' | 'sha384' | 'sha512';

export interface SignatureAlgorithm {
  /** RFC 5758 / RFC 4055 OID of the signature algorithm. */
  oid: string;
  hash: HashName;
  family: 'ecdsa' | 'rsa-pkcs1';
}

/** The signature algorithm a CA key signs with: the hash matches the curve's strength (RFC 5480 §4). */
export function signatureAlgorithmFor(keyType: CaKeyType): SignatureAlgorithm {
  switch (keyType) {
    case 'ec-p256':
      return { oid: id_ecdsaWithSHA256, hash: 'sha256', family: 'ecdsa' };
    case 'ec-p384':
      return { oid: id_ecdsaWithSHA384, hash: 'sha384', family: 'ecdsa' };
    case 'rsa-3072':
    case 'rsa-4096':
      return { oid: id_sha256WithRSAEncryption, hash: 'sha256', family: 'rsa-pkcs1' };
  }
}

const DER_NULL = new Uint8Array([0x05, 0x00]);

/**
 * AlgorithmIdentifier for the signature: ECDSA omits parameters (RFC 5758 §3.2); RSA PKCS#1 v1.5
 * carries NULL (RFC 4055 §5).
 */
export function algorithmIdentifier(alg: SignatureAlgorithm): AlgorithmIdentifier {
  return alg.family === 'rsa-pkcs1'
    ? new AlgorithmIdentifier({ algorithm: alg.oid, parameters: exactBuffer(DER_NULL) })
    : new AlgorithmIdentifier({ algorithm: alg.oid });
}
