import * as graphene from 'graphene-pk11';
import { CA_KEY_TYPES, type CaKeyType } from '../../x509/key-types.js';
import type { SealingScheme, TokenCapabilities } from '../key-store.js';

/** PKCS#11 mechanism numbers (PKCS#11 v2.40 §6), by the names the reports use. */
export const MECHANISMS = {
  CKM_RSA_PKCS_KEY_PAIR_GEN: 0x0,
  CKM_RSA_PKCS: 0x1,
  CKM_RSA_PKCS_OAEP: 0x9,
  CKM_RSA_PKCS_PSS: 0xd,
  CKM_EC_KEY_PAIR_GEN: 0x1040,
  CKM_ECDSA: 0x1041,
  CKM_AES_KEY_GEN: 0x1080,
  CKM_AES_CBC_PAD: 0x1085,
  CKM_AES_GCM: 0x1087,
} as const;
export type MechanismName = keyof typeof MECHANISMS;

/** What each CA key type needs of a token: the mechanisms, and the key size (bits) the token must reach. */
export const KEY_TYPE_NEEDS: Record<CaKeyType, { generate: MechanismName; sign: MechanismName; bits: number }> = {
  'ec-p256': { generate: 'CKM_EC_KEY_PAIR_GEN', sign: 'CKM_ECDSA', bits: 256 },
  'ec-p384': { generate: 'CKM_EC_KEY_PAIR_GEN', sign: 'CKM_ECDSA', bits: 384 },
  'rsa-3072': { generate: 'CKM_RSA_PKCS_KEY_PAIR_GEN', sign: 'CKM_RSA_PKCS', bits: 3072 },
  'rsa-4096': { generate: 'CKM_RSA_PKCS_KEY_PAIR_GEN', sign: 'CKM_RSA_PKCS', bits: 4096 },
};

interface MechanismInfo {
  minKeySize: number;
  maxKeySize: number;
}

/** The mechanisms a slot's token offers, by number, with the key sizes it reports for them. */
export function readMechanisms(slot: graphene.Slot): Map<number, MechanismInfo> {
  const list = slot.getMechanisms();
  const found = new Map<number, MechanismInfo>();
  for (let i = 0; i < list.length; i++) {
    const m = list.items(i);
    found.set(m.type, { minKeySize: m.minKeySize, maxKeySize: m.maxKeySize });
  }
  return found;
}

/**
 * Why a token cannot make and use a CA key type, or undefined when it can. Key sizes for EC are in
 * bits of the field, for RSA of the modulus (PKCS#11 §2.3, §2.1); a token that reports 0 as its
 * maximum is taken at its word that it sets no limit.
 */
export function keyTypeGap(mechanisms: Map<number, MechanismInfo>, keyType: CaKeyType): string | undefined {
  const needs = KEY_TYPE_NEEDS[keyType];
  const missing = [needs.generate, needs.sign].filter((name) => !mechanisms.has(MECHANISMS[name]));
  if (missing.length) return `it offers no ${missing.join(' and no ')}`;
  const generate = mechanisms.get(MECHANISMS[needs.generate])!;
  if (generate.maxKeySize && generate.maxKeySize < needs.bits) return `its ${needs.generate} goes up to ${generate.maxKeySize} bits, not ${needs.bits}`;
  return undefined;
}

/**
 * How secrets are sealed on this token: AES-256-GCM when it has CKM_AES_GCM; otherwise AES-256-CBC
 * with the ciphertext signed by a token key (encrypt-then-sign), which needs CKM_AES_CBC_PAD and one
 * CA key type; otherwise none, and the reason.
 */
export function sealingScheme(mechanisms: Map<number, MechanismInfo>, keyTypes: CaKeyType[]): { scheme?: SealingScheme; gap?: string } {
  if (!mechanisms.has(MECHANISMS.CKM_AES_KEY_GEN)) return { gap: 'it offers no CKM_AES_KEY_GEN' };
  if (mechanisms.has(MECHANISMS.CKM_AES_GCM)) return { scheme: 'aes-256-gcm' };
  if (!mechanisms.has(MECHANISMS.CKM_AES_CBC_PAD)) return { gap: 'it offers neither CKM_AES_GCM nor CKM_AES_CBC_PAD' };
  if (!keyTypes.length) return { gap: 'it offers CKM_AES_CBC_PAD but no signing key type to authenticate the ciphertext' };
  return { scheme: 'aes-256-cbc-signed' };
}

/** The service key type (audit checkpoints, OCSP responders): P-256 where the token makes it, else RSA-3072 (the same 128-bit strength, NIST SP 800-57). */
export const serviceKeyTypeOf = (keyTypes: CaKeyType[]): CaKeyType | undefined => (keyTypes.includes('ec-p256') ? 'ec-p256' : keyTypes.includes('rsa-3072') ? 'rsa-3072' : undefined);

export function capabilitiesOf(slot: graphene.Slot): TokenCapabilities {
  const mechanisms = readMechanisms(slot);
  const gaps: Partial<Record<CaKeyType, string>> = {};
  const keyTypes: CaKeyType[] = [];
  for (const keyType of CA_KEY_TYPES) {
    const gap = keyTypeGap(mechanisms, keyType);
    if (gap) gaps[keyType] = gap;
    else keyTypes.push(keyType);
  }
  const token = slot.getToken();
  const sealing = sealingScheme(mechanisms, keyTypes);
  return {
    token: { label: token.label.trim(), manufacturer: token.manufacturerID.trim(), model: token.model.trim(), serial: token.serialNumber.trim(), minPinLength: token.minPinLen, maxPinLength: token.maxPinLen, maxSessions: token.maxSessionCount, maxRwSessions: token.maxRwSessionCount },
    keyTypes,
    keyTypeGaps: gaps,
    sealing: sealing.scheme,
    sealingGap: sealing.gap,
    rsaPss: mechanisms.has(MECHANISMS.CKM_RSA_PKCS_PSS),
    rsaOaep: mechanisms.has(MECHANISMS.CKM_RSA_PKCS_OAEP),
    serviceKeyType: serviceKeyTypeOf(keyTypes),
  };
}
