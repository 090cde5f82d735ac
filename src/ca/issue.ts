import { buildName, nameToText } from '../x509/names.js';
import { assembleSigned, encodeTbsCertificate } from '../x509/certificate-builder.js';
import { keyIdentifier } from '../x509/extensions.js';
import { randomSerial, serialToHex } from '../x509/serial.js';
import { algorithmIdentifier } from '../x509/signature-algorithms.js';
import { toPem } from '../x509/pem.js';
import { verifyCsr, type VerifiedCsr } from '../x509/csr.js';
import { applyProfile } from '../profiles/rules/index.js';
import type { Profile } from '../profiles/schema.js';
import type { AuditLog } from '../audit/log.js';
import type { Clock } from '../clock.js';
import type { Db } from '../store/db.js';
import type { IssuanceStore } from '../store/certificates.js';
import { isUniqueViolation } from '../store/unique-violation.js';
import { HallmarkError } from '../errors.js';
import type { IssuerRegistry } from './issuer.js';
import { leafExtensions } from './leaf-extensions.js';
import { assertLintClean, lintCertificate, type Finding } from '../lint/index.js';
import { metrics } from '../observability/metrics.js';

/** The slice of the application that issuance needs. */
export interface IssueDeps {
  db: Db;
  issuers: IssuerRegistry;
  profiles: Map<string, Profile>;
  store: IssuanceStore;
  audit: AuditLog;
  clock: Clock;
  publicBaseUrl: string;
}

export interface IssueInput {
  /** PEM, base64 or DER PKCS#10, or a request already verified by the caller. */
  csr: string | Uint8Array | VerifiedCsr;
  profile: string;
  identity?: string;
  validityDays?: number;
  /** Internal issuance only (responder certificates): a CA other than the profile's issuer. */
  issuer?: string;
  actor: string;
  source?: string;
}

export interface IssuedCertificate {
  serial: string;
  der: Uint8Array;
  /** PEM certificate. */
  certificate: string;
  /** PEM certificates from the issuer up to, not including, the root. */
  chain: string[];
  issuer: string;
  profile: string;
  identity?: string;
  subject: string;
  notBefore: Date;
  notAfter: Date;
}

async function refuseUnlessClean(deps: IssueDeps, findings: Finding[], context: { actor: string; source?: string; profile: string; issuer: string }): Promise<void> {
  if (!findings.length) return;
  await deps.audit.record({
    actor: context.actor,
    action: 'certificate.lint',
    target: context.profile,
    outcome: 'failure',
    source: context.source,
    details: { issuer: context.issuer, findings },
  });
  assertLintClean(findings, `a certificate under profile "${context.profile}"`);
}

const isVerified = (csr: IssueInput['csr']): csr is VerifiedCsr => typeof csr === 'object' && 'spki' in csr;

export function lookupProfile(profiles: Map<string, Profile>, name: string): Profile {
  const profile = profiles.get(name);
  if (!profile) throw new HallmarkError('unknown_profile', `no profile named "${name}" (known: ${[...profiles.keys()].join(', ')})`, 404);
  return profile;
}

/**
 * CSR → certificate, recorded before it is signed (DESIGN.md, after Boulder): one transaction
 * reserves the serial with the exact TBSCertificate and writes the audit event; then the HSM signs;
 * then the certificate is recorded, and only then returned.
 */
export async function issueCertificate(deps: IssueDeps, input: IssueInput): Promise<IssuedCertificate> {
  const profile = lookupProfile(deps.profiles, input.profile);
  const csr = isVerified(input.csr) ? input.csr : await verifyCsr(input.csr);
  // The profile names a CA family (its current generation issues); internal callers may name a generation.
  const issuer = input.issuer ? deps.issuers.exact(input.issuer) : deps.issuers.get(profile.issuer);
  const now = deps.clock.now();
  const request = { csr, profile, identity: input.identity || undefined, validityDays: input.validityDays };
  const draft = applyProfile(request, { now, issuer });

  const subject = buildName(draft.subject);
  const signatureAlgorithm = algorithmIdentifier(issuer.signer.algorithm);
  const extensions = leafExtensions({
    profile,
    draft,
    subjectKeyId: keyIdentifier(csr.spki),
    issuerName: issuer.name,
    issuerKeyId: issuer.ski,
    publicBaseUrl: deps.publicBaseUrl,
  });

  let serial = '';
  let tbs: Uint8Array = new Uint8Array();
  for (let attempt = 0; ; attempt++) {
    const serialBytes = randomSerial();
    serial = serialToHex(serialBytes);
    tbs = encodeTbsCertificate(
      { serial: serialBytes, issuer: issuer.subject, subject, notBefore: draft.notBefore, notAfter: draft.notAfter, spki: csr.spki, extensions },
      signatureAlgorithm,
    );
    // Lint exactly what the HSM would sign, before anything is recorded (only the serial differs on a retry).
    if (attempt === 0) await refuseUnlessClean(deps, lintCertificate(tbs, issuer.lint), { actor: input.actor, source: input.source, profile: profile.name, issuer: issuer.name });
    try {
      await deps.db.transaction(async (trx) => {
        await deps.store.recordIntent(trx, {
          serial,
          issuer: issuer.name,
          profile: profile.name,
          identity: request.identity ?? null,
          subject: nameToText(subject),
          not_before: draft.notBefore.getTime(),
          not_after: draft.notAfter.getTime(),
          key_type: typeof csr.keyType === 'string' ? csr.keyType : 'unknown',
          requested_by: input.actor,
          created_at: now.getTime(),
          tbs,
        });
        await deps.audit.recordIn(trx, {
          actor: input.actor,
          action: 'certificate.issue',
          target: serial,
          outcome: 'pending',
          source: input.source,
          details: { issuer: issuer.name, profile: profile.name, identity: request.identity, subject: nameToText(subject) },
        });
      });
      break;
    } catch (e) {
      // 2^-126 per pair, but a collision must cost a retry, never a duplicate.
      if (!isUniqueViolation(e) || attempt >= 3) throw e;
    }
  }

  let der: Uint8Array;
  try {
    der = assembleSigned(tbs, signatureAlgorithm, await issuer.signer.sign(tbs));
  } catch (e) {
    await deps.store.recordFailed(serial);
    metrics.certificatesIssued.inc({ profile: profile.name, outcome: 'failed' });
    await deps.audit.record({
      actor: input.actor,
      action: 'certificate.issue',
      target: serial,
      outcome: 'failure',
      source: input.source,
      details: { reason: (e as Error).message },
    });
    throw e;
  }
  await deps.store.recordIssued(serial, der, deps.clock.now().getTime());
  metrics.certificatesIssued.inc({ profile: profile.name, outcome: 'issued' });

  return {
    serial,
    der,
    certificate: toPem(der, 'CERTIFICATE'),
    chain: issuer.chain.map((c) => toPem(c, 'CERTIFICATE')),
    issuer: issuer.name,
    profile: profile.name,
    identity: request.identity,
    subject: nameToText(subject),
    notBefore: draft.notBefore,
    notAfter: draft.notAfter,
  };
}
