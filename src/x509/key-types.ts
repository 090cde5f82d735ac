/**
 * The key types Hallmark knows, named the way profiles and the CA config spell them. One list serves
 * CA keys made on the token and the subject keys a profile may allow.
 */
export const KEY_TYPES = ['ec-p256', 'ec-p384', 'ec-p521', 'rsa-2048', 'rsa-3072', 'rsa-4096', 'ed25519'] as const;
export type KeyType = (typeof KEY_TYPES)[number];

/** CA and responder keys: the types the token must be able to generate and sign with. */
export const CA_KEY_TYPES = ['ec-p256', 'ec-p384', 'rsa-3072', 'rsa-4096'] as const;
export type CaKeyType = (typeof CA_KEY_TYPES)[number];

