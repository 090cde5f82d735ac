import * as graphene from 'graphene-pk11';
import { AsnConvert } from '@peculiar/asn1-schema';
import { ECParameters } from '@peculiar/asn1-ecc';
import { CURVE_OIDS } from '../../x509/spki.js';
import type { CaKeyType } from '../../x509/key-types.js';
import type { KeyUri } from '../key-uri.js';

export interface KeyPairTemplates {
  mechanism: graphene.KeyGenMechanism;
  publicKey: graphene.ITemplate;
  privateKey: graphene.ITemplate;
}

/**
 * CA keys are token objects that can sign and nothing else: private, sensitive, never extractable
 * (so CKA_ALWAYS_SENSITIVE and CKA_NEVER_EXTRACTABLE come out true), no decrypt, derive or unwrap.
 * `decrypt` (an RSA key of a SCEP RA, to which clients encrypt): the key also decrypts, still never
 * extractable. The public half says only what is safe on every module: tpm2-pkcs11 1.9 refuses a
 * public template with CKA_ENCRYPT false, and CKA_VERIFY true makes it give the private key
 * CKA_DECRYPT; Hallmark never verifies or encrypts on the token, so those are left to the module.
 * What the token made is read back and checked (restrictionGaps), never assumed.
 */
export function keyPairTemplates(uri: KeyUri, keyType: CaKeyType, options: { decrypt?: boolean } = {}): KeyPairTemplates {
  const decrypt = Boolean(options.decrypt) && keyType.startsWith('rsa-');
  const naming = { label: uri.object, ...(uri.id ? { id: Buffer.from(uri.id) } : {}) };
  const privateKey: graphene.ITemplate = {
    ...naming,
    token: true,
    private: true,
    sensitive: true,
    extractable: false,
    sign: true,
    decrypt,
    derive: false,
    unwrap: false,
  };
  const publicKey: graphene.ITemplate = { ...naming, token: true, private: false, wrap: false, derive: false, ...(decrypt ? { encrypt: true } : {}) };
  if (keyType.startsWith('ec-')) {
    const paramsEC = Buffer.from(AsnConvert.serialize(new ECParameters({ namedCurve: CURVE_OIDS[keyType]! })));
    return {
      mechanism: graphene.KeyGenMechanism.EC,
      publicKey: { ...publicKey, keyType: graphene.KeyType.EC, paramsEC },
      privateKey: { ...privateKey, keyType: graphene.KeyType.EC },
    };
  }
  const modulusBits = keyType === 'rsa-4096' ? 4096 : 3072;
  return {
    mechanism: graphene.KeyGenMechanism.RSA,
    publicKey: { ...publicKey, keyType: graphene.KeyType.RSA, modulusBits, publicExponent: Buffer.from([1, 0, 1]) },
    privateKey: { ...privateKey, keyType: graphene.KeyType.RSA },
  };
}

/** The private key's attributes as the token reports them. */
export interface PrivateKeyAttributes {
  sensitive: boolean;
  extractable: boolean;
  alwaysSensitive: boolean;
  neverExtractable: boolean;
  sign: boolean;
  decrypt: boolean;
  derive: boolean;
  unwrap: boolean;
}

/** How a key the token made falls short of what was asked (empty when it does not). */
export function restrictionGaps(attributes: PrivateKeyAttributes, options: { decrypt?: boolean } = {}): string[] {
  const gaps: string[] = [];
  if (!attributes.sensitive || !attributes.alwaysSensitive) gaps.push('not always sensitive');
  if (attributes.extractable || !attributes.neverExtractable) gaps.push('extractable');
  if (!attributes.sign) gaps.push('cannot sign');
  if (attributes.decrypt && !options.decrypt) gaps.push('can decrypt');
  if (attributes.derive) gaps.push('can derive');
  if (attributes.unwrap) gaps.push('can unwrap');
  return gaps;
}
