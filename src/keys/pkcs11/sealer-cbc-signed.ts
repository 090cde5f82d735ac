import { createPublicKey, randomBytes, verify } from 'node:crypto';
import { HallmarkError } from '../../base/errors.js';
import type { SecretSealer, Signer } from '../key-store.js';
import type { KeyUri } from '../key-uri.js';
import type { SessionPool } from './session-pool.js';
import { sealingKey } from './sealer.js';

const VERSION = 2;
const IV_BYTES = 16;
const DOMAIN = Buffer.from('hallmark-sealed-v2\0', 'utf8');

/**
 * For tokens without CKM_AES_GCM (openCryptoki's software token, tpm2-pkcs11): AES-256-CBC with PKCS#7
 * padding on the token, then the IV and ciphertext, bound to the context, signed by a token key
 * (encrypt-then-sign; the signature is checked before anything is decrypted, so a padding oracle is
 * never offered). Only the token can make a value that opens: a database writer cannot plant one.
 * Layout: version ‖ 128-bit IV ‖ u32 ciphertext length ‖ ciphertext ‖ signature.
 */
export function createSignedCbcSealer(pool: SessionPool, uri: KeyUri, authenticator: () => Promise<Signer>): SecretSealer {
  const key = sealingKey(pool, uri);
  const signed = (context: string, iv: Buffer, ciphertext: Buffer) => {
    const contextBytes = Buffer.from(context, 'utf8');
    const length = Buffer.alloc(4);
    length.writeUInt32BE(contextBytes.length);
    return Buffer.concat([DOMAIN, length, contextBytes, iv, ciphertext]);
  };

  return {
    async seal(plaintext, context) {
      const iv = randomBytes(IV_BYTES);
      const ciphertext = await pool.run(
        (session) => session.createCipher({ name: 'AES_CBC_PAD', params: iv }, key(session)).once(Buffer.from(plaintext), Buffer.alloc(plaintext.length + IV_BYTES)),
        'sealing',
      );
      const signer = await authenticator();
      const signature = await signer.sign(signed(context, iv, ciphertext));
      const length = Buffer.alloc(4);
      length.writeUInt32BE(ciphertext.length);
      return new Uint8Array(Buffer.concat([Buffer.of(VERSION), iv, length, ciphertext, signature]));
    },
    async open(sealed, context) {
      const bytes = Buffer.from(sealed);
      if (bytes.length < 1 + IV_BYTES + 4 + IV_BYTES || bytes[0] !== VERSION) throw new HallmarkError('sealed_invalid', 'sealed value is malformed (or sealed by another scheme than this token offers)', 500);
      const iv = bytes.subarray(1, 1 + IV_BYTES);
      const length = bytes.readUInt32BE(1 + IV_BYTES);
      const start = 1 + IV_BYTES + 4;
      if (length % IV_BYTES !== 0 || start + length >= bytes.length) throw new HallmarkError('sealed_invalid', 'sealed value is malformed', 500);
      const ciphertext = bytes.subarray(start, start + length);
      const signature = bytes.subarray(start + length);
      const signer = await authenticator();
      const publicKey = createPublicKey({ key: Buffer.from(signer.spki), format: 'der', type: 'spki' });
      if (!verify(signer.algorithm.hash, signed(context, iv, ciphertext), publicKey, signature)) {
        throw new HallmarkError('sealed_invalid', 'sealed value does not authenticate (altered, or sealed for another use)', 500);
      }
      const plaintext = await pool.run((session) => session.createDecipher({ name: 'AES_CBC_PAD', params: Buffer.from(iv) }, key(session)).once(Buffer.from(ciphertext), Buffer.alloc(ciphertext.length)), 'unsealing');
      return new Uint8Array(plaintext);
    },
  };
}
