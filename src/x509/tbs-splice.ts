import { derTime, derUnsignedInteger } from './der.js';
import { derNode, encodeDer, type DerNode, type DerPart } from './der-tree.js';
import { ATTRIBUTE_OIDS, isPrintable, type AttributeName } from './names.js';
import type { SubjectNames } from './extensions.js';

/**
 * TBSCertificate by splicing (the issuance hot path): what never changes for a profile under one
 * issuer is DER-encoded once, and only serial, validity, subject, SPKI, SKI and SAN are encoded per
 * certificate. Every encoder here must give the same bytes as @peculiar/asn1-x509 does for the same
 * value; test/fast-issuance.test.ts compares them byte for byte.
 */
export interface TbsConstants {
  signatureAlgorithm: Uint8Array;
  issuerName: Uint8Array;
  /** Extensions before the SKI (basicConstraints, keyUsage, extKeyUsage), each complete DER. */
  extensionsHead: Uint8Array;
  /** The authorityKeyIdentifier extension. */
  authorityKeyId: Uint8Array;
  /** Extensions after the SAN (CRL DP, AIA, OCSP no-check). */
  extensionsTail: Uint8Array;
}

export interface TbsVariables {
  serial: Uint8Array;
  notBefore: Date;
  notAfter: Date;
  subject: [AttributeName, string][];
  spki: Uint8Array;
  subjectKeyId: Uint8Array;
  /** The whole extension. */
  subjectAltName?: DerPart;
}

const VERSION_3 = Uint8Array.of(0xa0, 0x03, 0x02, 0x01, 0x02);
const OID_SKI = Uint8Array.of(0x06, 0x03, 0x55, 0x1d, 0x0e);
const OID_SAN = Uint8Array.of(0x06, 0x03, 0x55, 0x1d, 0x11);
const CRITICAL = Uint8Array.of(0x01, 0x01, 0xff);
const utf8 = new TextEncoder();

/** Extension ::= SEQUENCE { extnID, critical DEFAULT FALSE (omitted when false, X.690 §11.5), extnValue }. */
const extension = (oid: Uint8Array, critical: boolean, value: DerPart): DerNode => derNode(0x30, critical ? [oid, CRITICAL, derNode(0x04, [value])] : [oid, derNode(0x04, [value])]);

const subjectKeyIdExtension = (keyId: Uint8Array) => extension(OID_SKI, false, derNode(0x04, [keyId]));

/** GeneralNames in the order dns, ip, uri, email (as extensions.ts's subjectAltName); undefined when IPs need the schema encoder. */
export function subjectAltNameExtension(names: SubjectNames, critical: boolean): DerNode | undefined {
  if (names.ip.length) return undefined;
  const general: DerPart[] = [];
  for (const v of names.dns) general.push(derNode(0x82, [utf8.encode(v)]));
  for (const v of names.uri) general.push(derNode(0x86, [utf8.encode(v)]));
  for (const v of names.email) general.push(derNode(0x81, [utf8.encode(v)]));
  return extension(OID_SAN, critical, derNode(0x30, general));
}

const ATTRIBUTE_DER: Record<string, Uint8Array> = Object.fromEntries(
  Object.entries(ATTRIBUTE_OIDS).map(([name, oid]) => [name, Uint8Array.of(0x06, 0x03, 0x55, 0x04, Number(oid.split('.')[3]))]),
);

function nameNode(attributes: [AttributeName, string][]): DerNode {
  const rdns = attributes.map(([type, value]) => {
    const printable = isPrintable(value);
    // X.520: countryName and serialNumber are PrintableString only.
    if (!printable && (type === 'C' || type === 'serialNumber')) throw new Error(`${type} "${value}" is not a PrintableString`);
    return derNode(0x31, [derNode(0x30, [ATTRIBUTE_DER[type]!, derNode(printable ? 0x13 : 0x0c, [utf8.encode(value)])])]);
  });
  return derNode(0x30, rdns);
}

/** Name as names.ts's buildName encodes it: one attribute per RDN, PrintableString where allowed, else UTF8String. */
export const encodeName = (attributes: [AttributeName, string][]): Uint8Array => encodeDer(nameNode(attributes));

export function spliceTbs(c: TbsConstants, v: TbsVariables): Uint8Array {
  const extensions: DerPart[] = [c.extensionsHead, subjectKeyIdExtension(v.subjectKeyId), c.authorityKeyId];
  if (v.subjectAltName) extensions.push(v.subjectAltName);
  extensions.push(c.extensionsTail);
  return encodeDer(
    derNode(0x30, [
      VERSION_3,
      derUnsignedInteger(v.serial),
      c.signatureAlgorithm,
      c.issuerName,
      derNode(0x30, [derTime(v.notBefore), derTime(v.notAfter)]),
      nameNode(v.subject),
      v.spki,
      derNode(0xa3, [derNode(0x30, extensions)]),
    ]),
  );
}
