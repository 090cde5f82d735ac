import { createHash, createHmac, pbkdf2Sync, timingSafeEqual } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import type { AlgorithmIdentifier } from '@peculiar/asn1-x509';
import { PBKDF2Params, PBMAC1Params, PBMParameter } from './asn1.js';
import { CmpFailure } from './failure.js';

/** id-PasswordBasedMac (RFC 4211 §4.4, RFC 9810 §5.1.3.1). */
export const id_PasswordBasedMac = '1.2.840.113533.7.66.13';
/** id-PBMAC1 (RFC 8018 §7.1, RFC 9481 §6.1.1) and the PBKDF2 it uses. */
export const id_PBMAC1 = '1.2.840.113549.1.5.14';
const id_PBKDF2 = '1.2.840.113549.1.5.12';

const OWF: Record<string, string> = {
  '1.3.14.3.2.26': 'sha1',
  '2.16.840.1.101.3.4.2.4': 'sha224',
  '2.16.840.1.101.3.4.2.1': 'sha256',
  '2.16.840.1.101.3.4.2.2': 'sha384',
  '2.16.840.1.101.3.4.2.3': 'sha512',
};
const MAC: Record<string, string> = {
  '1.3.6.1.5.5.8.1.2': 'sha1', // hmac-sha1 (RFC 2202), what openssl cmp sends by default
  '1.2.840.113549.2.7': 'sha1', // hmacWithSHA1
  '1.2.840.113549.2.8': 'sha224',
  '1.2.840.113549.2.9': 'sha256',
  '1.2.840.113549.2.10': 'sha384',
  '1.2.840.113549.2.11': 'sha512',
};

/**
 * Checks a PasswordBasedMac: the key is the one-way function applied iterationCount times, first to
 * secret ‖ salt, then to its own output (RFC 4211 §4.4); the MAC is over the DER ProtectedPart. At most
 * `maxIterations` (the cost is the server's); an unknown OWF or MAC is badAlg.
 */
export function checkPbm(alg: AlgorithmIdentifier, protectedPart: Uint8Array, protection: Uint8Array, secret: Uint8Array, maxIterations: number): boolean {
  let params: PBMParameter;
  try {
    params = AsnConvert.parse(alg.parameters!, PBMParameter);
  } catch {
    throw new CmpFailure('badDataFormat', 'the PasswordBasedMac parameters are not a PBMParameter');
  }
  const owf = OWF[params.owf.algorithm];
  const mac = MAC[params.mac.algorithm];
  if (!owf || !mac) throw new CmpFailure('badAlg', `PasswordBasedMac with one-way function ${params.owf.algorithm} and MAC ${params.mac.algorithm}: use SHA-2 (or SHA-1) and HMAC`);
  const iterations = params.iterationCount;
  if (!Number.isSafeInteger(iterations) || iterations < 1 || iterations > maxIterations) throw new CmpFailure('badAlg', `PasswordBasedMac iteration count ${iterations}: 1 to ${maxIterations}`);
  const salt = new Uint8Array(params.salt.buffer);
  if (salt.length < 8 || salt.length > 256) throw new CmpFailure('badAlg', 'PasswordBasedMac salt: 8 to 256 bytes');
  let key = createHash(owf).update(secret).update(salt).digest();
  for (let i = 1; i < iterations; i++) key = createHash(owf).update(key).digest();
  const expected = createHmac(mac, key).update(protectedPart).digest();
  return expected.length === protection.length && timingSafeEqual(expected, protection);
}

/**
 * Checks a PBMAC1 (RFC 9481 §6.1.1): the key is PBKDF2 (RFC 8018 §5.2) of the secret with the salt, the
 * iteration count (at most `maxIterations`), the key length and the PRF given; the MAC an HMAC with the
 * SHA-2 (or SHA-1) the scheme names, over the DER ProtectedPart.
 */
export function checkPbmac1(alg: AlgorithmIdentifier, protectedPart: Uint8Array, protection: Uint8Array, secret: Uint8Array, maxIterations: number): boolean {
  let params: PBMAC1Params;
  let kdf: PBKDF2Params;
  try {
    params = AsnConvert.parse(alg.parameters!, PBMAC1Params);
    if (params.keyDerivationFunc.algorithm !== id_PBKDF2) throw new CmpFailure('badAlg', `PBMAC1 with key derivation ${params.keyDerivationFunc.algorithm}: PBKDF2 only`);
    kdf = AsnConvert.parse(params.keyDerivationFunc.parameters!, PBKDF2Params);
  } catch (e) {
    if (e instanceof CmpFailure) throw e;
    throw new CmpFailure('badDataFormat', 'the PBMAC1 parameters are not PBMAC1-params with PBKDF2-params');
  }
  const prf = MAC[kdf.prf?.algorithm ?? '1.2.840.113549.2.7'];
  const mac = MAC[params.messageAuthScheme.algorithm];
  if (!prf || !mac) throw new CmpFailure('badAlg', `PBMAC1 with PRF ${kdf.prf?.algorithm} and MAC ${params.messageAuthScheme.algorithm}: use HMAC with SHA-2 (or SHA-1)`);
  const iterations = kdf.iterationCount;
  if (!Number.isSafeInteger(iterations) || iterations < 1 || iterations > maxIterations) throw new CmpFailure('badAlg', `PBMAC1 iteration count ${iterations}: 1 to ${maxIterations}`);
  const salt = new Uint8Array(kdf.salt.buffer);
  if (salt.length < 8 || salt.length > 256) throw new CmpFailure('badAlg', 'PBMAC1 salt: 8 to 256 bytes');
  // RFC 9481 §6.1.1: keyLength must be present; at least the MAC's output and at most 64 bytes here.
  const keyLength = kdf.keyLength ?? 0;
  if (keyLength < 16 || keyLength > 64) throw new CmpFailure('badAlg', `PBMAC1 key length ${keyLength}: 16 to 64 bytes, and given`);
  const key = pbkdf2Sync(secret, salt, iterations, keyLength, prf);
  const expected = createHmac(mac, key).update(protectedPart).digest();
  return expected.length === protection.length && timingSafeEqual(expected, protection);
}
