import { hash } from 'node:crypto';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import { children, content, readTlv } from './der-reader.js';
import {
  AccessDescription,
  AuthorityInfoAccessSyntax,
  AuthorityKeyIdentifier,
  BasicConstraints,
  CRLDistributionPoints,
  DistributionPoint,
  DistributionPointName,
  ExtendedKeyUsage,
  Extension,
  GeneralName,
  KeyIdentifier,
  KeyUsage,
  KeyUsageFlags,
  SubjectAlternativeName,
  SubjectKeyIdentifier,
  SubjectPublicKeyInfo,
  id_ad_caIssuers,
  id_ad_ocsp,
  id_ce_authorityKeyIdentifier,
  id_ce_basicConstraints,
  id_ce_cRLDistributionPoints,
  id_ce_extKeyUsage,
  id_ce_keyUsage,
  id_ce_subjectAltName,
  id_ce_subjectKeyIdentifier,
  id_pe_authorityInfoAccess,
} from '@peculiar/asn1-x509';
import { exactBuffer } from './bytes.js';
import { hardwareModuleGeneralName, type HardwareModule } from './hardware-module-name.js';

export const EKU_OIDS: Record<string, string> = {
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
  codeSigning: '1.3.6.1.5.5.7.3.3',
  emailProtection: '1.3.6.1.5.5.7.3.4',
  timeStamping: '1.3.6.1.5.5.7.3.8',
  // id-kp-cmcRA (RFC 6402 §2.10): a CMP/CMC registration authority, the CMP responder's certificate (RFC 9483 §3.1).
  cmcRA: '1.3.6.1.5.5.7.3.28',
  OCSPSigning: '1.3.6.1.5.5.7.3.9',
};
/** id-pkix-ocsp-nocheck (RFC 6960 §4.2.2.2.1). */
export const ID_PKIX_OCSP_NOCHECK = '1.3.6.1.5.5.7.48.1.5';

const extension = (extnID: string, critical: boolean, value: unknown) =>
  new Extension({ extnID, critical, extnValue: new OctetString(AsnConvert.serialize(value)) });

/** Key identifier: SHA-1 of the subjectPublicKey BIT STRING contents (RFC 5280 §4.2.1.2, method 1). */
export function keyIdentifier(spki: SubjectPublicKeyInfo): Uint8Array {
  return keyIdOfBits(new Uint8Array(spki.subjectPublicKey));
}

/** The same from the SubjectPublicKeyInfo's DER, without a schema parse (the issuance hot path). */
export function keyIdOfSpki(spkiDer: Uint8Array): Uint8Array {
  const [, bits] = children(spkiDer, readTlv(spkiDer, 0));
  return keyIdOfBits(content(spkiDer, bits!).subarray(1)); // past the BIT STRING's unused-bits octet
}

const keyIdOfBits = (subjectPublicKey: Uint8Array) => new Uint8Array(hash('sha1', subjectPublicKey, 'buffer'));

/** RFC 5280 §4.2.1.9: critical; pathLenConstraint only on CAs. */
export const basicConstraints = (ca: boolean, pathLength?: number) =>
  extension(id_ce_basicConstraints, true, new BasicConstraints(ca ? { cA: true, pathLenConstraint: pathLength } : { cA: false }));

/** RFC 5280 §4.2.1.3: should be critical. */
export function keyUsage(usages: (keyof typeof KeyUsageFlags)[]): Extension {
  const flags = usages.reduce((acc, u) => acc | KeyUsageFlags[u], 0);
  return extension(id_ce_keyUsage, true, new KeyUsage(flags));
}

/** Critical only for a time-stamping authority, whose certificate RFC 3161 §2.3 says must be. */
export const extendedKeyUsage = (usages: string[]) =>
  extension(id_ce_extKeyUsage, usages.length === 1 && usages[0] === 'timeStamping', new ExtendedKeyUsage(usages.map((u) => EKU_OIDS[u] ?? u)));

export const subjectKeyIdentifier = (id: Uint8Array) =>
  extension(id_ce_subjectKeyIdentifier, false, new SubjectKeyIdentifier(exactBuffer(id)));

export const authorityKeyIdentifier = (id: Uint8Array) =>
  extension(id_ce_authorityKeyIdentifier, false, new AuthorityKeyIdentifier({ keyIdentifier: new KeyIdentifier(exactBuffer(id)) }));

export interface SubjectNames {
  dns: string[];
  uri: string[];
  ip: string[];
  email: string[];
}

/** RFC 5280 §4.2.1.6: critical when the subject is empty. Hardware modules (a TPM) go last, as otherName. */
export function subjectAltName(names: SubjectNames, critical: boolean, hardwareModules: readonly HardwareModule[] = []): Extension {
  const general = [
    ...names.dns.map((v) => new GeneralName({ dNSName: v })),
    ...names.ip.map((v) => new GeneralName({ iPAddress: v })),
    ...names.uri.map((v) => new GeneralName({ uniformResourceIdentifier: v })),
    ...names.email.map((v) => new GeneralName({ rfc822Name: v })),
    ...hardwareModules.map(hardwareModuleGeneralName),
  ];
  return extension(id_ce_subjectAltName, critical, new SubjectAlternativeName(general));
}

export const crlDistributionPoint = (url: string) =>
  extension(
    id_ce_cRLDistributionPoints,
    false,
    new CRLDistributionPoints([
      new DistributionPoint({ distributionPoint: new DistributionPointName({ fullName: [new GeneralName({ uniformResourceIdentifier: url })] }) }),
    ]),
  );

/** RFC 5280 §4.2.2.1: where to ask OCSP and where to fetch the issuer's certificate. */
export const authorityInfoAccess = (ocspUrl: string, caIssuersUrl: string) =>
  extension(
    id_pe_authorityInfoAccess,
    false,
    new AuthorityInfoAccessSyntax([
      new AccessDescription({ accessMethod: id_ad_ocsp, accessLocation: new GeneralName({ uniformResourceIdentifier: ocspUrl }) }),
      new AccessDescription({ accessMethod: id_ad_caIssuers, accessLocation: new GeneralName({ uniformResourceIdentifier: caIssuersUrl }) }),
    ]),
  );

/** Its value is NULL (RFC 6960 §4.2.2.2.1). */
export const ocspNoCheck = () =>
  new Extension({ extnID: ID_PKIX_OCSP_NOCHECK, critical: false, extnValue: new OctetString(exactBuffer(Uint8Array.of(0x05, 0x00))) });
