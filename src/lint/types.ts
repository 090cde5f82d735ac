import type { Extension, TBSCertificate, TBSCertList } from '@peculiar/asn1-x509';
import type { ResponseDataTimes } from '../x509/ocsp.js';

/** The issuing CA as the rules need it; absent when linting a certificate from elsewhere with no issuer given. */
export interface LintIssuer {
  subject: Uint8Array;
  ski?: Uint8Array;
  notBefore: Date;
  notAfter: Date;
  /** signature algorithm OID and whether it carries NULL parameters, for this issuer's key. */
  expectedSignature: { oid: string; nullParameters: boolean };
  /** The issuer's own pathLenConstraint, undefined when unlimited. */
  pathLength?: number;
}

export interface CertificateSubject {
  kind: 'certificate';
  tbs: TBSCertificate;
  /** Exact DER of TBS fields: 0 version, 1 serial, 2 signature, 3 issuer, 4 validity, 5 subject, 6 SPKI, 7… */
  raw: { serial: Uint8Array; issuer: Uint8Array; subject: Uint8Array; notBeforeTag: number; notAfterTag: number };
  extensions: Extension[];
  issuer?: LintIssuer;
  /** The certificate is its own issuer (a root). */
  selfIssued: boolean;
}

export interface CrlSubject {
  kind: 'crl';
  tbs: TBSCertList;
  raw: { issuer: Uint8Array };
  issuer?: LintIssuer;
  /** The number of the CRL this one replaces, when known. */
  previousNumber?: bigint;
  now: Date;
}

export interface OcspSubject {
  kind: 'ocsp';
  /** The times read back from the DER about to be signed. */
  data: ResponseDataTimes;
  /** The delegated responder's certificate (RFC 6960 §4.2.2.2). */
  responder?: CertificateSubject;
  now: Date;
}

export type LintSubject = CertificateSubject | CrlSubject | OcspSubject;

export interface Finding {
  rule: string;
  citation: string;
  message: string;
}

/** One rule, one file, one citation. `check` returns the problems it sees (none: empty). */
export interface LintRule<S extends LintSubject = LintSubject> {
  name: string;
  citation: string;
  appliesTo: S['kind'];
  check(subject: S): string[];
}
