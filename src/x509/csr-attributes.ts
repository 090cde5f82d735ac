import * as asn1js from 'asn1js';
import type { KeyType } from './key-types.js';
import { CURVE_OIDS } from './spki.js';

const ID_EC_PUBLIC_KEY = '1.2.840.10045.2.1';
const ECDSA_WITH_SHA256 = '1.2.840.10045.4.3.2';
const ECDSA_WITH_SHA384 = '1.2.840.10045.4.3.3';
const RSA_ENCRYPTION = '1.2.840.113549.1.1.1';
const SHA256_WITH_RSA = '1.2.840.113549.1.1.11';

/** One encoding per key type: the answer never changes, and EST's csrattrs is public. */
const encoded = new Map<KeyType, Uint8Array | undefined>();

/**
 * CsrAttrs (RFC 7030 §4.5.2, RFC 8951 §3.4): the key the profile prefers, as an attribute naming the
 * curve (or RSA modulus size), and the signature algorithm to sign the CSR with. Encoded once per key
 * type: encoding it per request was most of the server CPU an unauthenticated request costs
 * (docs/issuance-performance.md). Callers must not modify the bytes.
 */
export function csrAttributes(preferred: KeyType | undefined): Uint8Array | undefined {
  if (!preferred) return undefined;
  if (!encoded.has(preferred)) encoded.set(preferred, encode(preferred));
  return encoded.get(preferred);
}

function encode(preferred: KeyType): Uint8Array | undefined {
  const oid = (value: string) => new asn1js.ObjectIdentifier({ value });
  let items: asn1js.AsnType[];
  if (preferred.startsWith('ec-') && CURVE_OIDS[preferred]) {
    items = [oid(preferred === 'ec-p256' ? ECDSA_WITH_SHA256 : ECDSA_WITH_SHA384), new asn1js.Sequence({ value: [oid(ID_EC_PUBLIC_KEY), new asn1js.Set({ value: [oid(CURVE_OIDS[preferred]!)] })] })];
  } else if (preferred.startsWith('rsa-')) {
    const bits = Number(preferred.slice(4));
    items = [oid(SHA256_WITH_RSA), new asn1js.Sequence({ value: [oid(RSA_ENCRYPTION), new asn1js.Set({ value: [new asn1js.Integer({ value: bits })] })] })];
  } else return undefined;
  return new Uint8Array(new asn1js.Sequence({ value: items }).toBER(false));
}
