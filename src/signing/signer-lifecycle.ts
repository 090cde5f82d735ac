import type { AuditLog } from '../audit/log.js';
import type { Clock } from '../base/clock.js';
import { HallmarkError } from '../base/errors.js';
import { revokeCertificate, revokeUnlessRevoked, type RevokeDeps } from '../ca/revoke.js';
import { parseKeyUri } from '../keys/key-uri.js';
import type { Requester } from '../profiles/requester.js';
import { findCertificate } from '../store/certificates.js';
import { inTransaction, type StoreTx } from '../store/handle.js';
import {
  endOverlap,
  overlapsEnded,
  pendingReleases,
  rejectPendingRelease,
  releasesSignedBy,
  replaceSignerKey,
  setSignerStatus,
  type SignerKeyRow,
  type SignerRow,
} from '../store/signing.js';
import type { ReasonName } from '../x509/revocation-reasons.js';
import { certifySignerKey, requireSigner, type SignerDeps } from './signers.js';

export interface LifecycleDeps extends SignerDeps {
  audit: AuditLog;
  clock: Clock;
  revocation: RevokeDeps;
}

const DAY = 86_400_000;
/** Why a signer is revoked: RFC 5280 §5.3.1's reasons that fit a signing key (hold is not a signer state). */
export const SIGNER_REVOCATION_REASONS = ['keyCompromise', 'superseded', 'cessationOfOperation', 'affiliationChanged', 'privilegeWithdrawn', 'unspecified'] as const;
/** How long a replaced key stays verifiable when the rollover does not say. */
export const DEFAULT_OVERLAP_DAYS = 30;

/** A firmware signer by name (time-stamping signers renew themselves, tsa.ts). */
async function firmwareSigner(deps: SignerDeps, name: string): Promise<SignerRow> {
  const row = await requireSigner(deps.store, name);
  if (row.purpose !== 'firmware') throw new HallmarkError('not_firmware_signer', `signer "${name}" is the time-stamping authority's: it renews itself`, 409);
  return row;
}

/**
 * Rollover: a new key on the token and a new certificate (the profile of the current one, from the
 * CA generation that issues now) become the signer's; what it signs from now on is signed with them.
 * The replaced key signs nothing more and is destroyed; its certificate stays verifiable (not revoked)
 * for the overlap, so that images signed with it keep verifying while devices move to the new ones,
 * and is revoked as superseded when the overlap ends (`endOverlaps`). A revoked signer (compromise)
 * gets its new key the same way, with no overlap: its old certificate is revoked already.
 */
export async function rolloverSigner(deps: LifecycleDeps, input: { name: string; overlapDays?: number; keyType?: string; requester: Requester; actor: string; source?: string }) {
  const row = await firmwareSigner(deps, input.name);
  if (row.status === 'retired') throw new HallmarkError('signer_retired', `signer "${input.name}" is retired: it gets no new key (create another signer)`, 409);
  const overlapDays = input.overlapDays ?? DEFAULT_OVERLAP_DAYS;
  if (!Number.isInteger(overlapDays) || overlapDays < 0 || overlapDays > 3650) throw new HallmarkError('invalid_overlap', 'the overlap is a whole number of days from 0 to 3650', 400);
  // Recorded with every signer (migration 018 filled it in for those made before).
  const profile = row.profile ?? 'firmware-signer';
  const now = deps.clock.now().getTime();
  const compromised = row.status === 'revoked';
  const previous: SignerKeyRow = {
    serial: row.serial,
    signer: row.name,
    generation: Number(row.generation ?? 1),
    ca: row.ca,
    key_uri: row.key_uri,
    key_type: row.key_type,
    certificate: row.certificate,
    not_before: Number(row.not_before),
    not_after: Number(row.not_after),
    state: compromised ? 'revoked' : 'overlap',
    replaced_at: now,
    // Verifiable no longer than its certificate is valid.
    verifiable_until: compromised ? null : Math.min(now + overlapDays * DAY, Number(row.not_after)),
  };
  const next = await certifySignerKey(deps, { name: row.name, purpose: 'firmware', profile, keyType: input.keyType ?? row.key_type, requester: input.requester, actor: input.actor, source: input.source }, async (tx, issued, key) => {
    if (!(await replaceSignerKey(tx, previous, { ...key, profile }, now))) throw new HallmarkError('conflict', `signer "${row.name}" changed while rolling over; try again`, 409);
    await deps.audit.recordIn(tx, {
      actor: input.actor,
      action: 'signer.rollover',
      target: row.name,
      outcome: 'success',
      source: input.source,
      details: { serial: issued.serial, ca: issued.issuer, keyType: key.key_type, generation: previous.generation + 1, replaced: row.serial, verifiableUntil: previous.verifiable_until === null ? undefined : new Date(previous.verifiable_until).toISOString() },
    });
  });
  // The replaced key never signs again: destroyed now (a revoked signer's was destroyed at revocation).
  if (!compromised) await destroyKey(deps, row, input.actor);
  return { signer: row.name, generation: previous.generation + 1, serial: next.serial, notAfter: new Date(Number(next.not_after)), replaced: row.serial, verifiableUntil: previous.verifiable_until === null ? null : new Date(previous.verifiable_until) };
}

/**
 * Retirement: the signer signs nothing more, for good. Its key is destroyed and its pending releases
 * are rejected; its certificate is not revoked, so what it signed stays verifiable until the
 * certificate expires (revoke it too where that must end sooner: `hallmark signer revoke`).
 */
export async function retireSigner(deps: LifecycleDeps, input: { name: string; actor: string; source?: string }) {
  const row = await firmwareSigner(deps, input.name);
  if (row.status === 'retired') throw new HallmarkError('signer_retired', `signer "${input.name}" is retired already`, 409);
  const now = deps.clock.now().getTime();
  const rejected = await inTransaction(deps.store, async (tx) => {
    if (!(await setSignerStatus(tx, row.name, row.status ?? 'active', 'retired', now))) throw new HallmarkError('conflict', `signer "${row.name}" changed meanwhile; try again`, 409);
    const ids = await rejectPending(tx, row.name, input.actor, 'the signer was retired', now);
    await deps.audit.recordIn(tx, { actor: input.actor, action: 'signer.retire', target: row.name, outcome: 'success', source: input.source, details: { serial: row.serial, rejectedReleases: ids } });
    return ids;
  });
  if (row.status !== 'revoked') await destroyKey(deps, row, input.actor);
  return { signer: row.name, serial: row.serial, rejectedReleases: rejected };
}

/**
 * Revocation (keyCompromise above all): the signer's certificate is revoked with the reason (and,
 * for a compromise, the date from which its signatures are in doubt: RFC 5280 §5.3.2 invalidityDate),
 * its key destroyed, its pending releases rejected, and the signer signs nothing until a rollover
 * gives it a new key. The answer lists the releases that key signed: the ones to sign again.
 */
export async function revokeSigner(deps: LifecycleDeps, input: { name: string; reason: ReasonName; invalidityDate?: Date; actor: string; source?: string }) {
  const row = await firmwareSigner(deps, input.name);
  if (row.status === 'retired') throw new HallmarkError('signer_retired', `signer "${input.name}" is retired; revoke its certificate with hallmark revoke ${row.serial}`, 409);
  if (!(SIGNER_REVOCATION_REASONS as readonly string[]).includes(input.reason)) throw new HallmarkError('invalid_reason', `a signer is revoked for good with one of ${SIGNER_REVOCATION_REASONS.join(', ')}`, 400);
  const certificate = await findCertificate(deps.store, row.serial);
  // Resumable: a revocation that stopped after the certificate was revoked finishes the rest.
  if (certificate?.status !== 'revoked') await revokeCertificate(deps.revocation, { serial: row.serial, reason: input.reason, invalidityDate: input.invalidityDate, actor: input.actor, source: input.source });
  else if (row.status === 'revoked') throw new HallmarkError('already_revoked', `signer "${input.name}" is revoked already (hallmark signer rollover ${input.name} gives it a new key)`, 409);
  const now = deps.clock.now().getTime();
  const rejected = await inTransaction(deps.store, async (tx) => {
    if (!(await setSignerStatus(tx, row.name, 'active', 'revoked', now))) throw new HallmarkError('conflict', `signer "${row.name}" changed meanwhile; try again`, 409);
    const ids = await rejectPending(tx, row.name, input.actor, `the signer was revoked (${input.reason})`, now);
    await deps.audit.recordIn(tx, { actor: input.actor, action: 'signer.revoke', target: row.name, outcome: 'success', source: input.source, details: { serial: row.serial, reason: input.reason, rejectedReleases: ids } });
    return ids;
  });
  await destroyKey(deps, row, input.actor);
  const signed = await releasesSignedBy(deps.store, row.serial);
  return { signer: row.name, serial: row.serial, reason: input.reason, rejectedReleases: rejected, releasesSigned: signed.map((r) => ({ id: Number(r.id), product: r.product, channel: r.channel, version: r.version })) };
}

/**
 * Ends the overlaps that are over: each replaced key's certificate is revoked as superseded (a
 * reason that leaves earlier, time-stamped signatures valid), and the key recorded as superseded.
 * Run by every instance's periodic check; a revocation made by another instance first is no error.
 */
export async function endOverlaps(deps: LifecycleDeps): Promise<string[]> {
  const ended: string[] = [];
  for (const key of await overlapsEnded(deps.store, deps.clock.now().getTime())) {
    // Not one revoked otherwise meanwhile (on hold, or compromised): that status stands.
    if ((await findCertificate(deps.store, key.serial))?.status !== 'revoked') await revokeUnlessRevoked(deps.revocation, { serial: key.serial, reason: 'superseded', actor: 'system:lifecycle' });
    const done = await inTransaction(deps.store, async (tx) => {
      if (!(await endOverlap(tx, key.serial))) return false;
      await deps.audit.recordIn(tx, { actor: 'system:lifecycle', action: 'signer.overlap_end', target: key.signer, outcome: 'success', details: { serial: key.serial, generation: key.generation } });
      return true;
    });
    if (done) ended.push(`${key.signer} ${key.serial}`);
  }
  return ended;
}

async function rejectPending(tx: StoreTx, signer: string, actor: string, reason: string, now: number): Promise<number[]> {
  const ids: number[] = [];
  for (const release of await pendingReleases(tx, signer)) {
    if (await rejectPendingRelease(tx, Number(release.id), { rejected_by: actor, rejected_at: now, rejection_reason: reason })) ids.push(Number(release.id));
  }
  return ids;
}

/** A key that will never sign again leaves the token; a failure is audited, not hidden (the key is unusable anyway: the signer's status refuses it). */
async function destroyKey(deps: LifecycleDeps, row: SignerRow, actor: string): Promise<void> {
  try {
    await deps.keys.deleteKey(parseKeyUri(row.key_uri));
    await deps.audit.record({ actor, action: 'signer.key_destroy', target: row.name, outcome: 'success', details: { serial: row.serial, keyUri: row.key_uri } });
  } catch (e) {
    await deps.audit.record({ actor, action: 'signer.key_destroy', target: row.name, outcome: 'failure', details: { serial: row.serial, keyUri: row.key_uri, reason: (e as Error).message } });
  }
}
