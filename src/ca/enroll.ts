import type { StoreTx } from '../store/handle.js';
import { x509 } from '../x509/crypto-provider.js';
import type { VerifiedCsr } from '../x509/csr.js';
import { markSuperseded, supersededDueQuery, type CertificateRow } from '../store/certificates.js';
import type { EstConfig } from '../config/ca-config.js';
import { HallmarkError } from '../base/errors.js';
import { issueBatch, type IssueDeps, type IssuedCertificate } from './issue.js';
import { revokeCertificate, type RevokeDeps } from './revoke.js';
import { renewalGranted, spendRenewalGrant } from './renewal-grants.js';

/** The enrollment identity must be the one the CSR names (RFC 7030 §3.5: the server binds the two). */
export function requireCsrIdentity(csr: VerifiedCsr, device: string): void {
  if (csr.commonName !== device) {
    throw new HallmarkError('identity_mismatch', `the CSR names "${csr.commonName ?? '(no CN)'}" but the credential is for device "${device}"`, 403);
  }
}

/** Renewal opens once `fromFraction` of the lifetime has passed; expired or revoked never renew. */
export function renewalWindow(row: CertificateRow, policy: EstConfig['renewal'], now: Date, granted = false): void {
  const notBefore = Number(row.not_before);
  const notAfter = Number(row.not_after);
  if (row.status !== 'active') throw new HallmarkError('not_renewable', `certificate ${row.serial} is ${row.status}; it cannot renew itself`, 403);
  if (notAfter <= now.getTime()) throw new HallmarkError('not_renewable', `certificate ${row.serial} has expired; enroll again`, 403);
  if (row.superseded_by) throw new HallmarkError('not_renewable', `certificate ${row.serial} was already renewed (by ${row.superseded_by})`, 403);
  const opens = notBefore + (notAfter - notBefore) * policy.fromFraction;
  if (now.getTime() < opens && !granted) {
    throw new HallmarkError(
      'too_early',
      `renewal of ${row.serial} opens at ${new Date(opens).toISOString()} (after ${Math.round(policy.fromFraction * 100)}% of its lifetime: est.renewal.fromFraction in the CA configuration); an operator can let it renew now with: hallmark cert allow-renewal ${row.serial}`,
      403,
    );
  }
}

const canonicalSubject = (der: Uint8Array) => new x509.Name(der).toString();

/** RFC 7030 §4.2.2 (and RFC 9483 §4.1.3 for CMP kur): the subject (and the names, when the request carries any) are those of the certificate renewed. */
export function requireSameNames(csr: VerifiedCsr, current: Uint8Array): void {
  const cert = new x509.X509Certificate(current);
  const wanted = canonicalSubject(new Uint8Array(cert.subjectName.toArrayBuffer()));
  const askedDer = csr.der.length ? new Uint8Array(new x509.Pkcs10CertificateRequest(csr.der).subjectName.toArrayBuffer()) : csr.subjectDer;
  if (!askedDer) throw new HallmarkError('subject_mismatch', 'a renewal must name the subject of the certificate renewed', 400);
  const asked = canonicalSubject(askedDer);
  if (wanted !== asked) throw new HallmarkError('subject_mismatch', `a renewal must keep the subject "${wanted}", the CSR asks for "${asked}"`, 400);
  const requested = [...csr.requested.names.dns.map((n) => `dns:${n}`), ...csr.requested.names.uri.map((n) => `uri:${n}`), ...csr.requested.names.ip.map((n) => `ip:${n}`)].sort();
  if (!requested.length) return;
  const san = cert.getExtension(x509.SubjectAlternativeNameExtension);
  const existing = (san?.names.items ?? []).map((n) => `${n.type === 'url' ? 'uri' : n.type}:${n.value}`).sort();
  if (requested.join('\n') !== existing.join('\n')) throw new HallmarkError('subject_mismatch', 'a renewal must keep the subject alternative names of the certificate renewed', 400);
}

/**
 * Issues the replacement; the old certificate is marked superseded (and an early-renewal grant spent)
 * in the transaction that records the new one, so both happen or neither does.
 */
export async function renewCertificate(deps: IssueDeps, input: { csr: VerifiedCsr; current: CertificateRow; policy: EstConfig['renewal']; actor: string; source?: string; namesFromProfile?: boolean }): Promise<IssuedCertificate> {
  const now = deps.clock.now();
  const granted = await deps.store.transaction((tx) => renewalGranted(tx, input.current.serial));
  renewalWindow(input.current, input.policy, now, granted);
  // EST and CMP renew the names as they were (RFC 7030 §4.2.2, RFC 9483 §4.1.3). SCEP asks nothing of
  // the request's subject: the profile makes it again from the identity, which the CSR's CN, if any, must name.
  if (!input.namesFromProfile) requireSameNames(input.csr, new Uint8Array(input.current.der!));
  else if (input.csr.commonName !== undefined && input.current.identity && input.csr.commonName !== input.current.identity) {
    throw new HallmarkError('subject_mismatch', `a renewal of ${input.current.serial} names "${input.current.identity}", the CSR names "${input.csr.commonName}"`, 400);
  }
  const supersede = async (tx: StoreTx, outcomes: (IssuedCertificate | Error)[]) => {
    const issued = outcomes[0]!;
    if (issued instanceof Error) return;
    await markSuperseded(tx, input.current.serial, issued.serial, now.getTime());
    if (granted) await spendRenewalGrant(tx, input.current.serial);
    await deps.audit.recordIn(tx, {
      actor: input.actor,
      action: 'certificate.renew',
      target: input.current.serial,
      outcome: 'success',
      source: input.source,
      details: { replacedBy: issued.serial, rekey: Buffer.compare(Buffer.from(input.csr.spkiDer), Buffer.from(new x509.X509Certificate(input.current.der!).publicKey.rawData)) !== 0 },
    });
  };
  const [issued] = await issueBatch(deps, [{ csr: input.csr, profile: input.current.profile, identity: input.current.identity ?? undefined, requester: { kind: 'renewal' }, actor: input.actor, source: input.source }], { alongside: supersede });
  if (issued instanceof Error) throw issued;
  return issued!;
}

/** Policy: a renewed certificate is revoked (reason superseded) once its grace period is over. */
export async function revokeSuperseded(deps: RevokeDeps, policy: EstConfig['renewal']): Promise<number> {
  if (policy.revokeSupersededAfterHours === null) return 0;
  const cutoff = deps.clock.now().getTime() - policy.revokeSupersededAfterHours * 3_600_000;
  const due = (await supersededDueQuery(deps.store, cutoff)) as { serial: string }[];
  for (const { serial } of due) await revokeCertificate(deps, { serial, reason: 'superseded', actor: 'system:renewal' }).catch(() => undefined);
  return due.length;
}
