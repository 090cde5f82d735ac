import { createPublicKey, randomBytes, verify } from 'node:crypto';
import type { CaKeyType } from '../x509/key-types.js';
import { signatureAlgorithmFor } from '../x509/signature-algorithms.js';
import type { KeyStore } from './key-store.js';

/** `failedAt: 'sign'`: the token made the key and then would not sign with it (tpm2-pkcs11 may keep such a key). */
export type KeyTypeProbe = { ok: true; generatedMs: number; sensitive: boolean; extractable: boolean } | { ok: false; failedAt: 'create' | 'sign' | 'verify'; detail: string; label: string };

const MESSAGE = Buffer.from('hallmark key probe');

/**
 * Proves a token can hold a key type, not only that it lists the mechanisms: a throw-away key made as
 * CA keys are, a signature that node:crypto verifies, the key deleted. tpm2-pkcs11 lists CKM_RSA_PKCS
 * yet signs with it only through TPM2_RSA_Decrypt, which a sign-only key refuses: only trying shows it.
 */
export async function probeKeyType(keys: KeyStore, token: string, keyType: CaKeyType, prefix = 'hallmark-probe'): Promise<KeyTypeProbe> {
  const label = `${prefix}-${keyType}-${randomBytes(4).toString('hex')}`;
  const uri = { token, object: label };
  let made = false;
  try {
    const started = Date.now();
    const signer = await keys.createKey(uri, keyType);
    made = true;
    const generatedMs = Date.now() - started;
    const protection = await keys.describeProtection(uri);
    let signature: Uint8Array;
    try {
      signature = await signer.sign(MESSAGE);
    } catch (e) {
      return { ok: false, failedAt: 'sign', label, detail: `the token made the key but does not sign with it (${keyType.startsWith('rsa-') ? 'CKM_RSA_PKCS' : 'CKM_ECDSA'}): ${(e as Error).message}` };
    }
    const publicKey = createPublicKey({ key: Buffer.from(signer.spki), format: 'der', type: 'spki' });
    if (!verify(signatureAlgorithmFor(keyType).hash, MESSAGE, publicKey, signature)) return { ok: false, failedAt: 'verify', label, detail: 'the token signs, but the signature does not verify with node:crypto' };
    return { ok: true, generatedMs, sensitive: protection.sensitive, extractable: protection.extractable };
  } catch (e) {
    return { ok: false, failedAt: 'create', label, detail: (e as Error).message };
  } finally {
    if (made) await keys.deleteKey(uri).catch(() => {});
  }
}
