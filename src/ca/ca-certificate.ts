import type { Extension, Name } from '@peculiar/asn1-x509';
import type { Signer } from '../keys/key-store.js';
import { assembleSigned, encodeTbsCertificate } from '../x509/certificate-builder.js';
import {
  authorityInfoAccess,
  authorityKeyIdentifier,
  basicConstraints,
  crlDistributionPoint,
  keyUsage,
  subjectKeyIdentifier,
} from '../x509/extensions.js';
import { algorithmIdentifier } from '../x509/signature-algorithms.js';
import { AsnConvert } from '@peculiar/asn1-schema';
import { SubjectPublicKeyInfo } from '@peculiar/asn1-x509';
import { keyIdentifier } from '../x509/extensions.js';
import { caIssuersUrl, crlUrl, ocspUrl } from './urls.js';
import { nameToText } from '../x509/names.js';
import { assertLintClean, lintCertificate, lintIssuerFromCertificate, type LintIssuer } from '../lint/index.js';

export interface CaCertificateInput {
  serial: Uint8Array;
  subject: Name;
  subjectSigner: Signer;
  notBefore: Date;
  notAfter: Date;
  pathLength?: number;
  /** Absent for a self-signed root. */
  parent?: { name: string; subject: Name; ski: Uint8Array; signer: Signer; certificate: Uint8Array };
  publicBaseUrl: string;
  /** Records the linted TBSCertificate before the key signs it (record-before-sign, as for every certificate). */
  beforeSigning?: (tbs: Uint8Array) => Promise<void>;
}

/**
 * A CA certificate (RFC 5280 §4.2.1.9, §4.2.1.3): basicConstraints CA:TRUE critical with the
 * configured pathLen, keyUsage keyCertSign + cRLSign critical, SKI, and AKI naming the signer. A
 * subordinate also carries its parent's CRL and AIA pointers.
 */
export async function buildCaCertificate(input: CaCertificateInput): Promise<{ der: Uint8Array; ski: Uint8Array; tbs: Uint8Array }> {
  const spki = AsnConvert.parse(input.subjectSigner.spki, SubjectPublicKeyInfo);
  const ski = keyIdentifier(spki);
  const signer = input.parent?.signer ?? input.subjectSigner;
  const extensions: Extension[] = [
    basicConstraints(true, input.pathLength),
    keyUsage(['keyCertSign', 'cRLSign']),
    subjectKeyIdentifier(ski),
    authorityKeyIdentifier(input.parent?.ski ?? ski),
  ];
  if (input.parent) {
    extensions.push(
      crlDistributionPoint(crlUrl(input.publicBaseUrl, input.parent.name)),
      authorityInfoAccess(ocspUrl(input.publicBaseUrl), caIssuersUrl(input.publicBaseUrl, input.parent.name)),
    );
  }
  const signatureAlgorithm = algorithmIdentifier(signer.algorithm);
  const tbs = encodeTbsCertificate(
    {
      serial: input.serial,
      issuer: input.parent?.subject ?? input.subject,
      subject: input.subject,
      notBefore: input.notBefore,
      notAfter: input.notAfter,
      spki,
      extensions,
    },
    signatureAlgorithm,
  );
  // A root is its own issuer: the lint compares it with itself.
  const issuer: LintIssuer = input.parent
    ? lintIssuerFromCertificate(input.parent.certificate)
    : {
        subject: new Uint8Array(AsnConvert.serialize(input.subject)),
        ski,
        notBefore: input.notBefore,
        notAfter: input.notAfter,
        expectedSignature: { oid: signer.algorithm.oid, nullParameters: signer.algorithm.family === 'rsa-pkcs1' },
      };
  assertLintClean(lintCertificate(tbs, issuer, { selfIssued: !input.parent }), `the CA certificate "${nameToText(input.subject)}"`);
  await input.beforeSigning?.(tbs);
  return { der: assembleSigned(tbs, signatureAlgorithm, await signer.sign(tbs)), ski, tbs };
}
