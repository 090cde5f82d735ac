import { inTransaction } from '../store/handle.js';
import { createCaStore } from '../store/cas.js';
import { countToReissue, markSuperseded, nextToReissue } from '../store/certificates.js';
import { x509 } from '../x509/crypto-provider.js';
import { requestForOwnKey, type VerifiedCsr } from '../x509/csr.js';
import { HallmarkError } from '../base/errors.js';
import { issueCertificate, type IssueDeps } from './issue.js';
import { revokeCertificate, type RevokeDeps } from './revoke.js';
import type { ReasonName } from '../x509/revocation-reasons.js';

/**
 * Revokes a CA generation (its parent revokes its certificate: the parent's CRL and OCSP say so) and
 * stops it from signing. Refused for a root, and for the last live generation of its family: that
 * would leave devices with no issuer — roll over first.
 */
export async function revokeCa(issue: IssueDeps, revocation: RevokeDeps, name: string, reason: ReasonName, actor: string) {
  const ca = issue.issuers.exact(name);
  if (ca.isRoot) throw new HallmarkError('unsupported', 'a root cannot be revoked by a parent; roll the root over and withdraw it from trust stores', 400);
  const successors = issue.issuers.generations(ca.family).filter((g) => g.name !== name);
  if (!successors.length) throw new HallmarkError('last_issuer', `${name} is the only CA of "${ca.family}"; roll over first (hallmark ca rollover ${ca.family}) so that devices keep an issuer`, 409);
  const row = (await createCaStore(revocation.store).get(name))!;
  await revokeCertificate(revocation, { serial: row.serial, reason, actor });
  await inTransaction(revocation.store, async (trx) => {
    await createCaStore(revocation.store).setStatus(trx, name, 'revoked', issue.clock.now().getTime());
    await issue.audit.recordIn(trx, { actor, action: 'ca.revoke', target: name, outcome: 'success', details: { reason, family: ca.family, successor: successors[0]!.name } });
  });
  await issue.issuers.refresh();
  return { name, family: ca.family, successor: issue.issuers.get(ca.family).name, reason };
}


/** A request for a certificate's own key, names and identity, to issue it again from another CA. */
function requestFromCertificate(der: Uint8Array): VerifiedCsr {
  const cert = new x509.X509Certificate(der);
  const request = requestForOwnKey(new Uint8Array(cert.publicKey.rawData));
  const san = cert.getExtension(x509.SubjectAlternativeNameExtension);
  for (const n of san?.names.items ?? []) {
    if (n.type === 'dns') request.requested.names.dns.push(n.value);
    if (n.type === 'ip') request.requested.names.ip.push(n.value);
  }
  request.commonName = cert.subjectName.getField('CN')[0];
  return request;
}

/**
 * Re-issues every live certificate of a revoked CA from its family's current generation, with the
 * same key, identity and profile, then revokes the old one (cACompromise). Resumable by construction:
 * a certificate done is superseded and revoked, so a second run only sees what is left.
 */
export async function reissueFrom(issue: IssueDeps, revocation: RevokeDeps, name: string, actor: string, onProgress: (done: number, total: number) => void = () => {}) {
  const status = await createCaStore(revocation.store).get(name);
  if (!status) throw new HallmarkError('unknown_ca', `no CA named "${name}"`, 404);
  if (status.status !== 'revoked') throw new HallmarkError('not_revoked', `${name} is not revoked; re-issue is the second step of \`hallmark ca revoke\``, 409);
  const total = await countToReissue(revocation.store, name, issue.clock.now().getTime());
  let done = 0;
  const failures: { serial: string; error: string }[] = [];
  for (;;) {
    const batch = await nextToReissue(revocation.store, name, issue.clock.now().getTime(), failures.map((f) => f.serial), 100);
    if (!batch.length) break;
    for (const row of batch) {
      try {
        const issued = await issueCertificate(issue, { csr: requestFromCertificate(new Uint8Array(row.der!)), profile: row.profile, identity: row.identity ?? undefined, requester: { kind: 'system' }, actor });
        await markSuperseded(revocation.store, row.serial, issued.serial, issue.clock.now().getTime());
        await issue.audit.record({ actor, action: 'certificate.reissue', target: row.serial, outcome: 'success', details: { from: name, replacedBy: issued.serial } });
        await revokeCertificate(revocation, { serial: row.serial, reason: 'cACompromise', actor });
      } catch (e) {
        failures.push({ serial: row.serial, error: (e as Error).message });
      }
      onProgress(++done, total);
    }
  }
  return { ca: name, reissued: done - failures.length, failed: failures, total };
}
