import { randomBytes } from 'node:crypto';
import * as graphene from 'graphene-pk11';
import { HallmarkError } from '../../base/errors.js';
import type { SecretSealer } from '../key-store.js';
import type { KeyUri } from '../key-uri.js';
import type { SessionPool } from './session-pool.js';

const VERSION = 1;
const IV_BYTES = 12;
const TAG_BYTES = 16;

export function findSecretKey(session: graphene.Session, uri: KeyUri): graphene.SecretKey | undefined {
  const found = session.find({ class: graphene.ObjectClass.SECRET_KEY, label: uri.object });
  return found.length ? found.items(0).toType<graphene.SecretKey>() : undefined;
}

const CKR_FUNCTION_NOT_SUPPORTED = 0x54;

/**
 * Sensitive, non-extractable AES-256 on the token, usable only to encrypt and decrypt. A module that
 * cannot generate secret keys through PKCS#11 (tpm2-pkcs11 1.9 answers C_GenerateKey with
 * CKR_FUNCTION_NOT_SUPPORTED) takes one made with its own tool, found by label.
 */
function generateSecretKey(session: graphene.Session, uri: KeyUri): graphene.SecretKey {
  try {
    return session.generateKey(graphene.KeyGenMechanism.AES, {
      class: graphene.ObjectClass.SECRET_KEY,
      keyType: graphene.KeyType.AES,
      valueLen: 32,
      label: uri.object,
      ...(uri.id ? { id: Buffer.from(uri.id) } : {}),
      token: true,
      private: true,
      sensitive: true,
      extractable: false,
      encrypt: true,
      decrypt: true,
      sign: false,
      wrap: false,
      unwrap: false,
      derive: false,
    });
  } catch (e) {
    if ((e as { code?: number }).code !== CKR_FUNCTION_NOT_SUPPORTED) throw e;
    throw new HallmarkError(
      'hsm_sealing_key_missing',
      `token "${uri.token}" cannot generate the AES-256 key "${uri.object}" that seals secrets (C_GenerateKey is not supported by this module): ` +
        `make it with the token's own tool and run again (tpm2-pkcs11: tpm2_ptool addkey --label ${uri.token} --key-label ${uri.object} --algorithm aes256 --userpin …)`,
      503,
    );
  }
}

/** The AES key a sealer uses, found (or made) once per module initialisation: handles die with a reset. */
export function sealingKey(pool: SessionPool, uri: KeyUri): (session: graphene.Session) => graphene.SecretKey {
  let cached: graphene.SecretKey | undefined;
  pool.onReset(() => (cached = undefined));
  return (session) => (cached ??= findSecretKey(session, uri) ?? generateSecretKey(session, uri));
}

/**
 * AES-256-GCM through CKM_AES_GCM, single-part (SoftHSM's multi-part GCM decrypt asks for a larger
 * buffer than it fills). Sealed layout: version ‖ 96-bit random IV ‖ ciphertext ‖ 128-bit tag.
 */
export function createPkcs11Sealer(pool: SessionPool, uri: KeyUri): SecretSealer {
  const key = sealingKey(pool, uri);
  const params = (iv: Buffer, context: string) => ({ name: 'AES_GCM', params: new graphene.AesGcmParams(iv, Buffer.from(context, 'utf8'), TAG_BYTES * 8) });

  return {
    seal: (plaintext, context) =>
      pool.run((session) => {
        const iv = randomBytes(IV_BYTES);
        const out = session.createCipher(params(iv, context), key(session)).once(Buffer.from(plaintext), Buffer.alloc(plaintext.length + TAG_BYTES));
        return new Uint8Array(Buffer.concat([Buffer.of(VERSION), iv, out]));
      }, 'sealing'),
    async open(sealed, context) {
      if (sealed.length < 1 + IV_BYTES + TAG_BYTES || sealed[0] !== VERSION) throw new HallmarkError('sealed_invalid', 'sealed value is malformed', 500);
      const iv = Buffer.from(sealed.subarray(1, 1 + IV_BYTES));
      const body = Buffer.from(sealed.subarray(1 + IV_BYTES));
      const result = await pool.run((session) => {
        const k = key(session);
        try {
          return session.createDecipher(params(iv, context), k).once(body, Buffer.alloc(body.length));
        } catch {
          // An authentication failure (SoftHSM says CKR_GENERAL_ERROR) must not look like a lost module.
          return undefined;
        }
      }, 'unsealing');
      if (!result) throw new HallmarkError('sealed_invalid', 'sealed value does not authenticate (altered, or sealed for another use)', 500);
      return new Uint8Array(result);
    },
  };
}
