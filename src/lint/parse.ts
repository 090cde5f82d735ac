import * as asn1js from 'asn1js';
import { AsnConvert } from '@peculiar/asn1-schema';
import { Certificate, CertificateList, TBSCertificate, TBSCertList } from '@peculiar/asn1-x509';
import type { CertificateSubject, CrlSubject, LintIssuer } from './types.js';
import { keyIdentifier } from '../x509/extensions.js';
import { signatureAlgorithmFor } from '../x509/signature-algorithms.js';
import { keyTypeOf } from '../x509/spki.js';
import type { CaKeyType } from '../x509/key-types.js';
import { rawSubject } from '../x509/certificate-fields.js';
import { id_ce_basicConstraints, BasicConstraints, id_ce_subjectKeyIdentifier, SubjectKeyIdentifier } from '@peculiar/asn1-x509';

const view = (node: asn1js.AsnType) => new Uint8Array(node.valueBeforeDecodeView);

function berSequence(der: Uint8Array): asn1js.Sequence {
  const parsed = asn1js.fromBER(new Uint8Array(der));
  if (parsed.offset === -1) throw new Error(`not valid DER: ${parsed.result.error}`);
  return parsed.result as asn1js.Sequence;
}

/** A TBSCertificate ready for the rules: the schema view plus the exact bytes some rules compare. */
export function certificateSubject(tbsDer: Uint8Array, issuer: LintIssuer | undefined, selfIssued = false): CertificateSubject {
  const tbs = AsnConvert.parse(tbsDer, TBSCertificate);
  const fields = berSequence(tbsDer).valueBlock.value;
  const offset = fields[0]!.idBlock.tagClass === 3 ? 0 : -1; // [0] version present?
  const validity = fields[4 + offset] as asn1js.Sequence;
  const serial = fields[1 + offset] as asn1js.Integer;
  return {
    kind: 'certificate',
    tbs,
    raw: {
      serial: new Uint8Array(serial.valueBlock.valueHexView),
      issuer: view(fields[3 + offset]!),
      subject: view(fields[5 + offset]!),
      notBeforeTag: validity.valueBlock.value[0]!.idBlock.tagNumber,
      notAfterTag: validity.valueBlock.value[1]!.idBlock.tagNumber,
    },
    extensions: tbs.extensions ?? [],
    issuer,
    selfIssued,
  };
}

export function crlSubject(tbsDer: Uint8Array, issuer: LintIssuer | undefined, now: Date, previousNumber?: bigint): CrlSubject {
  const tbs = AsnConvert.parse(tbsDer, TBSCertList);
  const fields = berSequence(tbsDer).valueBlock.value;
  const offset = fields[0] instanceof asn1js.Integer ? 0 : -1; // version is optional in v1 CRLs
  return { kind: 'crl', tbs, raw: { issuer: view(fields[2 + offset]!) }, issuer, previousNumber, now };
}

/** The TBS part of a signed certificate or CRL (for `hallmark lint` on files from elsewhere). */
export function tbsOf(signedDer: Uint8Array): Uint8Array {
  return view(berSequence(signedDer).valueBlock.value[0]!);
}

export function isCrl(signedDer: Uint8Array): boolean {
  try {
    AsnConvert.parse(signedDer, CertificateList);
    const tbs = berSequence(tbsOf(signedDer)).valueBlock.value;
    // A TBSCertificate starts with [0] version or an INTEGER serial followed by an AlgorithmIdentifier;
    // a TBSCertList has the AlgorithmIdentifier then a Name then a Time.
    const firstSeq = tbs.findIndex((n) => n instanceof asn1js.Sequence);
    return tbs[firstSeq + 2] instanceof asn1js.UTCTime || tbs[firstSeq + 2] instanceof asn1js.GeneralizedTime;
  } catch {
    return false;
  }
}

/** What the rules need to know about an issuing CA, read from its certificate. */
export function lintIssuerFromCertificate(certDer: Uint8Array): LintIssuer {
  const cert = AsnConvert.parse(certDer, Certificate);
  const tbs = cert.tbsCertificate;
  const keyType = keyTypeOf(tbs.subjectPublicKeyInfo);
  const skiExt = tbs.extensions?.find((e) => e.extnID === id_ce_subjectKeyIdentifier);
  const bcExt = tbs.extensions?.find((e) => e.extnID === id_ce_basicConstraints);
  const ski = skiExt ? new Uint8Array(AsnConvert.parse(skiExt.extnValue, SubjectKeyIdentifier).buffer) : keyIdentifier(tbs.subjectPublicKeyInfo);
  const bc = bcExt ? AsnConvert.parse(bcExt.extnValue, BasicConstraints) : undefined;
  let expected = { oid: '', nullParameters: false };
  if (typeof keyType === 'string' && ['ec-p256', 'ec-p384', 'rsa-3072', 'rsa-4096'].includes(keyType)) {
    const alg = signatureAlgorithmFor(keyType as CaKeyType);
    expected = { oid: alg.oid, nullParameters: alg.family === 'rsa-pkcs1' };
  }
  return {
    subject: rawSubject(certDer),
    ski,
    notBefore: tbs.validity.notBefore.getTime(),
    notAfter: tbs.validity.notAfter.getTime(),
    expectedSignature: expected,
    pathLength: bc?.pathLenConstraint,
  };
}
