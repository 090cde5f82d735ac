import type { CaKeyType } from '../x509/key-types.js';
import type { SignatureAlgorithm } from '../x509/signature-algorithms.js';
import type { KeyUri } from './key-uri.js';

/** RSAES-PKCS1-v1_5 (RFC 8017 §7.2) or RSAES-OAEP with SHA-1 or SHA-256 and MGF1 of the same hash (§7.1). */
export type RsaDecryptScheme = 'rsa-pkcs1' | 'rsa-oaep-sha1' | 'rsa-oaep-sha256';

/** A signing key that stays where it is: `sign` returns the signature value as X.509 carries it. */
export interface Signer {
  keyType: CaKeyType;
  algorithm: SignatureAlgorithm;
  /** DER SubjectPublicKeyInfo of the key. */
  spki: Uint8Array;
  /** Signs `data` (hashing it first as the algorithm says); ECDSA comes back DER-encoded (RFC 5480 §2.2). */
  sign(data: Uint8Array): Promise<Uint8Array>;
  /** Signs a digest made with `algorithm.hash`, so that large inputs (CRLs) can be hashed as a stream. */
  signDigest(digest: Uint8Array): Promise<Uint8Array>;
  /** Signs each item (as `sign` does), in order; large batches may be spread over threads. */
  signMany(items: Uint8Array[]): Promise<Uint8Array[]>;
  /**
   * RSA keys only: RSASSA-PSS (RFC 8017 §8.1) over a digest made with `algorithm.hash`, MGF1 with the
   * same hash and a salt as long as the hash (RFC 4055 §3.1's usual choice), for verifiers that take raw
   * signatures (firmware). Certificates, CRLs and OCSP stay PKCS#1 v1.5.
   */
  signDigestPss?(digest: Uint8Array): Promise<Uint8Array>;
}

/** How a key is protected on the token, read back through PKCS#11 (for checks and reports). */
export interface KeyProtection {
  token: boolean;
  private: boolean;
  sensitive: boolean;
  extractable: boolean;
  alwaysSensitive: boolean;
  neverExtractable: boolean;
}

/**
 * Encrypts small secrets (TOTP seeds, server-generated keys) under a key that never leaves the
 * token. `context` is bound in as associated data, so a sealed value cannot be moved to another use.
 */
export interface SecretSealer {
  seal(plaintext: Uint8Array, context: string): Promise<Uint8Array>;
  /** Throws `sealed_invalid` when the value was altered or sealed for another context. */
  open(sealed: Uint8Array, context: string): Promise<Uint8Array>;
}

/** How stored secrets are sealed on the token (see sealer.ts). */
export type SealingScheme = 'aes-256-gcm' | 'aes-256-cbc-signed';

/** What a token can do for Hallmark, read from its mechanism list and token info. */
export interface TokenCapabilities {
  token: { label: string; manufacturer: string; model: string; serial: string; minPinLength: number; maxPinLength: number; maxSessions: number; maxRwSessions: number };
  /** The CA key types the token can generate and sign with. */
  keyTypes: CaKeyType[];
  /** For each CA key type it cannot make: why (the missing mechanism or key size). */
  keyTypeGaps: Partial<Record<CaKeyType, string>>;
  sealing?: SealingScheme;
  /** Why no sealing scheme is possible, when none is. */
  sealingGap?: string;
  rsaPss: boolean;
  rsaOaep: boolean;
  /** The key type of service keys (audit checkpoints, OCSP responders) on this token. */
  serviceKeyType?: CaKeyType;
}

/** The seam between the CA and wherever its keys live (four methods plus inspection). */
export interface KeyStore {
  /**
   * Generates a key pair on the token; refuses if a key with that name already exists. `decrypt`
   * (RSA only): the key also decrypts (a SCEP RA's key transport), never leaving the token.
   */
  createKey(uri: KeyUri, keyType: CaKeyType, options?: { decrypt?: boolean }): Promise<Signer>;
  /** RSA key transport on the token (C_Decrypt): PKCS#1 v1.5 or OAEP; only for a key made with `decrypt`. */
  decrypt(uri: KeyUri, ciphertext: Uint8Array, scheme: RsaDecryptScheme): Promise<Uint8Array>;
  getSigner(uri: KeyUri): Promise<Signer>;
  /** Only for rolling back a ceremony that failed before its key certified anything. */
  deleteKey(uri: KeyUri): Promise<void>;
  /** Whether a key pair with that name exists (ceremonies check before creating). */
  hasKey(uri: KeyUri): Promise<boolean>;
  /**
   * Seals with an AES-256 key on the token, generated on first use: AES-GCM, or where the token has
   * none, AES-CBC signed by a token key (`authObject`, default `<object>-auth`).
   */
  getSealer(uri: KeyUri, options?: { authObject?: string }): Promise<SecretSealer>;
  describeProtection(uri: KeyUri): Promise<KeyProtection>;
  /** What the token offers (read once per connection). */
  capabilities(): Promise<TokenCapabilities>;
  close(): Promise<void>;
}

/** The token object that seals Hallmark's stored secrets (TOTP seeds). */
export const SECRETS_KEY = 'hallmark-secrets';
