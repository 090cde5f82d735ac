import { constants, createCipheriv, createHmac, publicEncrypt, randomBytes } from 'node:crypto';
import { publicKeyOf, TPM_ALG, TpmFormatError, type TpmPublic } from './tpm-public.js';

/**
 * KDFa (TPM 2.0 Part 1 §11.4.10.2): SP 800-108 counter mode with HMAC of the name algorithm:
 * HMAC(key, counter ‖ label ‖ 0x00 ‖ contextU ‖ contextV ‖ bits), counters from 1, truncated to `bits`.
 */
export function kdfa(hash: string, key: Uint8Array, label: string, contextU: Uint8Array, contextV: Uint8Array, bits: number): Buffer {
  const out: Buffer[] = [];
  const u32 = (n: number) => Buffer.from([(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]);
  let length = 0;
  for (let counter = 1; length < bits / 8; counter++) {
    const block = createHmac(hash, key).update(u32(counter)).update(label).update(Buffer.of(0)).update(contextU).update(contextV).update(u32(bits)).digest();
    out.push(block);
    length += block.length;
  }
  return Buffer.concat(out).subarray(0, bits / 8);
}

const u16 = (n: number) => Buffer.from([(n >> 8) & 0xff, n & 0xff]);
const tpm2b = (bytes: Uint8Array) => Buffer.concat([u16(bytes.length), bytes]);

/**
 * TPM2_MakeCredential done outside the TPM (Part 1 §24, Part 3 §12.6): protects `credential` so that
 * only the TPM holding the endorsement key `ek` can recover it, and only for the object named
 * `objectName` (the attestation key) loaded in that same TPM (TPM2_ActivateCredential). The seed goes
 * to the EK by RSA-OAEP with the label "IDENTITY"; the credential is encrypted (AES-CFB, zero IV) under
 * KDFa(seed, "STORAGE", name) and bound by an HMAC under KDFa(seed, "INTEGRITY"). RSA EKs only.
 */
export function makeCredential(ek: TpmPublic, objectName: Uint8Array, credential: Uint8Array): { credentialBlob: Buffer; encryptedSecret: Buffer } {
  if (ek.type !== 'rsa' || !ek.rsa) throw new TpmFormatError('credential activation needs an RSA endorsement key here');
  const symmetric = ek.symmetric;
  if (!symmetric || symmetric.algorithm !== TPM_ALG.AES || symmetric.mode !== TPM_ALG.CFB) throw new TpmFormatError('the endorsement key is not a storage key with AES-CFB');
  if (credential.length > ek.nameAlg.size) throw new TpmFormatError(`a credential is at most ${ek.nameAlg.size} bytes`);
  const hash = ek.nameAlg.name;
  const seed = randomBytes(ek.nameAlg.size);
  const encryptedSecret = publicEncrypt({ key: publicKeyOf(ek), padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: hash, oaepLabel: Buffer.from('IDENTITY\0', 'latin1') }, seed);
  const symKey = kdfa(hash, seed, 'STORAGE', objectName, new Uint8Array(), symmetric.keyBits);
  const cipher = createCipheriv(`aes-${symmetric.keyBits}-cfb`, symKey, Buffer.alloc(16));
  const encIdentity = Buffer.concat([cipher.update(tpm2b(credential)), cipher.final()]);
  const hmacKey = kdfa(hash, seed, 'INTEGRITY', new Uint8Array(), new Uint8Array(), ek.nameAlg.size * 8);
  const outerHmac = createHmac(hash, hmacKey).update(encIdentity).update(objectName).digest();
  return { credentialBlob: tpm2b(Buffer.concat([tpm2b(outerHmac), encIdentity])), encryptedSecret: tpm2b(encryptedSecret) };
}

/** The file tpm2_activatecredential reads (-i): magic 0xBADCC0DE, version 1, TPM2B_ID_OBJECT, TPM2B_ENCRYPTED_SECRET. */
export const activationFile = (made: { credentialBlob: Uint8Array; encryptedSecret: Uint8Array }): Buffer => Buffer.concat([Buffer.from('badcc0de00000001', 'hex'), made.credentialBlob, made.encryptedSecret]);
