import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import { AlgorithmIdentifier, SubjectPublicKeyInfo } from '@peculiar/asn1-x509';
import { ECParameters, id_ecPublicKey, id_secp256r1, id_secp384r1, id_secp521r1 } from '@peculiar/asn1-ecc';
import { RSAPublicKey, id_rsaEncryption } from '@peculiar/asn1-rsa';
import type { KeyType } from './key-types.js';
import { exactBuffer } from './bytes.js';

/** Named curves (RFC 5480 §2.1.1.1) by OID. */
export const CURVES: Record<string, KeyType> = { [id_secp256r1]: 'ec-p256', [id_secp384r1]: 'ec-p384', [id_secp521r1]: 'ec-p521' };
export const CURVE_OIDS: Record<string, string> = { 'ec-p256': id_secp256r1, 'ec-p384': id_secp384r1, 'ec-p521': id_secp521r1 };
const ID_ED25519 = '1.3.101.112';
const DER_NULL = new Uint8Array([0x05, 0x00]);

/** The key type named by DER ECParameters (RFC 5480 §2.1.1: namedCurve only). */
export function ecKeyType(parameters: ArrayBuffer): KeyType | { unsupported: string } {
  const params = AsnConvert.parse(parameters, ECParameters);
  const type = params.namedCurve ? CURVES[params.namedCurve] : undefined;
  return type ?? { unsupported: `EC curve ${params.namedCurve ?? '(explicit parameters)'}` };
}

/** The key type a SubjectPublicKeyInfo holds, or a description of why it is none Hallmark knows. */
export function keyTypeOf(spki: SubjectPublicKeyInfo): KeyType | { unsupported: string } {
  const oid = spki.algorithm.algorithm;
  if (oid === id_ecPublicKey) {
    if (!spki.algorithm.parameters) return { unsupported: 'EC key without named curve' };
    return ecKeyType(spki.algorithm.parameters);
  }
  if (oid === id_rsaEncryption) {
    const key = AsnConvert.parse(spki.subjectPublicKey, RSAPublicKey);
    let modulus = new Uint8Array(key.modulus);
    while (modulus.length && modulus[0] === 0) modulus = modulus.subarray(1);
    const bits = modulus.length * 8 - Math.clz32(modulus[0] ?? 0) + 24;
    const name = `rsa-${bits}`;
    return ['rsa-2048', 'rsa-3072', 'rsa-4096'].includes(name) ? (name as KeyType) : { unsupported: `RSA ${bits}-bit` };
  }
  if (oid === ID_ED25519) return 'ed25519';
  return { unsupported: `algorithm ${oid}` };
}

/**
 * The SubjectPublicKeyInfo algorithm of a key type: id-ecPublicKey with its named curve (RFC 5480
 * §2.1.1), rsaEncryption with NULL (RFC 3279 §2.3.1), or Ed25519 without parameters (RFC 8410 §3).
 */
export function keyAlgorithmIdentifier(keyType: KeyType): AlgorithmIdentifier {
  if (keyType.startsWith('rsa-')) return new AlgorithmIdentifier({ algorithm: id_rsaEncryption, parameters: exactBuffer(DER_NULL) });
  if (keyType === 'ed25519') return new AlgorithmIdentifier({ algorithm: ID_ED25519 });
  const curve = CURVE_OIDS[keyType];
  if (!curve) throw new Error(`not an EC key type: ${keyType}`);
  return new AlgorithmIdentifier({ algorithm: id_ecPublicKey, parameters: AsnConvert.serialize(new ECParameters({ namedCurve: curve })) });
}

/** SPKI for an EC point (uncompressed, 04‖X‖Y) on a named curve (RFC 5480 §2). */
export function ecSpki(keyType: KeyType, point: Uint8Array): SubjectPublicKeyInfo {
  if (!CURVE_OIDS[keyType]) throw new Error(`not an EC key type: ${keyType}`);
  return new SubjectPublicKeyInfo({ algorithm: keyAlgorithmIdentifier(keyType), subjectPublicKey: exactBuffer(point) });
}

/** SPKI for an RSA key (RFC 3279 §2.3.1: rsaEncryption with NULL parameters). */
export function rsaSpki(modulus: Uint8Array, exponent: Uint8Array): SubjectPublicKeyInfo {
  // INTEGERs are signed: a leading 0 keeps a modulus with its top bit set positive.
  const positive = (b: Uint8Array) => (b[0]! & 0x80 ? Uint8Array.from([0, ...b]) : b);
  const key = new RSAPublicKey({ modulus: exactBuffer(positive(modulus)), publicExponent: exactBuffer(positive(exponent)) });
  return new SubjectPublicKeyInfo({
    algorithm: new AlgorithmIdentifier({ algorithm: id_rsaEncryption, parameters: exactBuffer(DER_NULL) }),
    subjectPublicKey: AsnConvert.serialize(key),
  });
}

/**
 * CKA_EC_POINT is a DER OCTET STRING wrapping the point (PKCS#11 v2.40 §2.3.3); a few modules return
 * the bare point, which is accepted too.
 */
export function unwrapEcPoint(ecPoint: Uint8Array): Uint8Array {
  try {
    const inner = new Uint8Array(AsnConvert.parse(exactBuffer(ecPoint), OctetString).buffer);
    if (inner[0] === 0x04) return inner;
  } catch {
    // Not wrapped: fall through to the bare form.
  }
  return ecPoint;
}
