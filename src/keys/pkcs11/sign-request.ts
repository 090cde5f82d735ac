import type { HashName } from '../../x509/signature-algorithms.js';

/**
 * How a signing worker signs a chunk of data (the context of the chunk; the data crosses packed):
 * each item is hashed there and signed with the key found by its URI parts.
 */
export interface SignContext {
  keyLabel: string;
  /** Hex CKA_ID, when the key URI has one. */
  keyId?: string;
  family: 'ecdsa' | 'rsa-pkcs1';
  hash: HashName;
}

/** DER DigestInfo up to the digest itself (RFC 8017 §9.2, note 1). */
export const DIGEST_INFO_PREFIX: Record<HashName, Buffer> = {
  sha256: Buffer.from('3031300d060960864801650304020105000420', 'hex'),
  sha384: Buffer.from('3041300d060960864801650304020205000430', 'hex'),
  sha512: Buffer.from('3051300d060960864801650304020305000440', 'hex'),
};
