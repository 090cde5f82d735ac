import type { Knex } from 'knex';
import { x509 } from '../x509/crypto-provider.js';
import { requestForOwnKey, type VerifiedCsr } from '../x509/csr.js';
import { HallmarkError } from '../errors.js';
import { issueCertificate, type IssueDeps } from './issue.js';
import { revokeCertificate, type RevokeDeps } from './revoke.js';
import type { ReasonName } from './revocation-reasons.js';

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
  const row = await issue.db('cas').where({ name }).first();
  await revokeCertificate(revocation, { serial: row.serial, reason, actor });
  await issue.db.transaction(async (trx: Knex.Transaction) => {
    await trx('cas').where({ name }).update({ status: 'revoked', retired_at: issue.clock.now().getTime() });
    await issue.audit.recordIn(trx, { actor, action: 'ca.revoke', target: name, outcome: 'success', details: { reason, family: ca.family, successor: successors[0]!.name } });
  });
  await issue.issuers.refresh();
  return { name, family: ca.family, successor: issue.issuers.get(ca.family).name, reason };
}

/** Live certificates of a CA still to re-issue (its OCSP responders and link certificates go with it). */
export const toReissue = (db: IssueDeps['db'], name: string, now: Date) =>
  db('certificates').where({ issuer: name, status: 'active' }).whereNull('superseded_by').where('not_after', '>', now.getTime()).whereNotIn('profile', ['ocsp-signer', 'link']);

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
  const status = await issue.db('cas').where({ name }).first();
  if (!status) throw new HallmarkError('unknown_ca', `no CA named "${name}"`, 404);
  if (status.status !== 'revoked') throw new HallmarkError('not_revoked', `${name} is not revoked; re-issue is the second step of \`hallmark ca revoke\``, 409);
  const pending = () => toReissue(issue.db, name, issue.clock.now());
  const total = Number((await pending().clone().count({ n: '*' }))[0]!.n);
  let done = 0;
  const failures: { serial: string; error: string }[] = [];
  for (;;) {
    const batch = await pending().clone().select('serial', 'der', 'profile', 'identity').whereNotIn('serial', failures.map((f) => f.serial)).orderBy('serial').limit(100);
    if (!batch.length) break;
    for (const row of batch) {
      try {
        const issued = await issueCertificate(issue, { csr: requestFromCertificate(new Uint8Array(row.der)), profile: row.profile, identity: row.identity ?? undefined, requester: { kind: 'system' }, actor });
        await issue.db('certificates').where({ serial: row.serial }).update({ superseded_by: issued.serial, superseded_at: issue.clock.now().getTime() });
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
