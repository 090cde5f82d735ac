import type { AuditLog } from '../audit/log.js';
import type { Clock } from '../base/clock.js';
import { HallmarkError } from '../base/errors.js';
import { findCertificate } from '../store/certificates.js';
import { inTransaction, type Handle } from '../store/handle.js';
import { completeRelease, findRelease, lockProductChannel, reopenRejectedRelease, findReleaseByKey, findSigner, findSignerKey, insertRelease, rejectPendingRelease, releasesOfDigest, versionsSigned, type ReleaseRow } from '../store/signing.js';
import { isUniqueViolation } from '../store/unique-violation.js';
import { DIGEST_OIDS, detachedSignedData, type DigestName } from './cms.js';
import { ecdsaDerToRaw } from './raw-signature.js';
import { caIsLive, chainPem, keyChain, loadSignerRow, requireSigner, type LoadedSigner, type SignerDeps } from './signers.js';
import { compareVersions, VERSION } from './versions.js';
import type { CaConfig } from '../config/ca-config.js';
import { currentTsa, recordedTimestamp } from './tsa.js';
import { sha256Imprint } from './timestamp.js';

export const SIGNATURE_FORMATS = ['cms', 'raw'] as const;
export type SignatureFormat = (typeof SIGNATURE_FORMATS)[number];
const LABEL = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
const DIGEST_HEX = { sha256: 64, sha384: 96 } as const;
const CURVE_BYTES: Record<string, number> = { 'ec-p256': 32, 'ec-p384': 48 };
/** The hash a raw signature by each key type is over (the key's own signature hash, x509/signature-algorithms.ts). */
const KEY_HASH: Record<string, DigestName> = { 'ec-p256': 'sha256', 'ec-p384': 'sha384', 'rsa-3072': 'sha256', 'rsa-4096': 'sha256' };

export interface SignRequest {
  signer: string;
  digestAlgorithm: string;
  /** Hex digest of the artifact (the artifact itself never travels). */
  digest: string;
  product: string;
  channel?: string;
  version: string;
  format?: string;
  metadata?: Record<string, string>;
  /** CMS only: carry a time-stamp token from this Hallmark's TSA over the signature (RFC 3161 appendix A). */
  timestamp?: boolean;
  /** Sign although the version is not above every one signed for the product on the channel (admins only). */
  rollbackOverride?: string;
  /** Whether the requester may override the rollback check (an admin, or the local CLI). */
  mayOverride: boolean;
  actor: string;
  source?: string;
}

export interface ReleaseDeps extends SignerDeps {
  audit: AuditLog;
  clock: Clock;
  /** The time-stamping authority's settings, for time-stamped signatures. */
  tsa: CaConfig['tsa'];
}

/**
 * Signs one artifact by its digest, the release record first: the signer must be current (certificate
 * valid, not revoked), the version above every version signed for the product on its channel unless
 * an admin overrides with a reason, and the record and its audit entry are committed before the
 * signature is returned. The same digest, signer and format asked again for the same product and
 * channel answer the same record; an image signed before as another version of the product is refused.
 */
export async function signRelease(deps: ReleaseDeps, input: SignRequest): Promise<{ release: ReleaseRow; replayed: boolean }> {
  const request = validate(input);
  const key = { signer: input.signer, digest_algorithm: request.digestAlgorithm, digest: request.digest, format: request.format, product: request.product, channel: request.channel };
  const existing = await findReleaseByKey(deps.store, key);
  // A rejected release asked for again is asked for anew (checked, and signed or pending again); the
  // rejection stays in the audit log.
  if (existing && existing.status !== 'rejected') return { release: sameVersion(existing, request), replayed: true };
  const reopened = existing ? sameVersion(existing, request) : undefined;
  // An image has one version: signed as another version of the product before, it is refused.
  for (const other of await releasesOfDigest(deps.store, request.digestAlgorithm, request.digest)) if (other.product === request.product) sameVersion(other, request);

  await rollbackCheck(deps.store, request, input, reopened?.id); // before the token signs anything; again where it is recorded
  const now = deps.clock.now();
  const signer = await usableSigner(deps, input.signer, request, now);
  // A two-person signer signs nothing yet: the release waits for a second principal's approval.
  const signature = signer.row.two_person ? null : await signatureFor(deps, signer, request, now);
  const row: ReleaseRow = {
    signer: input.signer,
    product: request.product,
    channel: request.channel,
    version: request.version,
    digest_algorithm: request.digestAlgorithm,
    digest: request.digest,
    format: request.format,
    timestamped: request.timestamp,
    status: signature ? 'signed' : 'pending',
    signature,
    metadata: JSON.stringify(request.metadata),
    override_reason: null,
    requested_by: input.actor,
    approved_by: null,
    approved_at: null,
    created_at: now.getTime(),
    signer_serial: signature ? signer.row.serial : null,
  };
  try {
    await inTransaction(deps.store, async (tx) => {
      await lockProductChannel(tx, request.product, request.channel);
      row.override_reason = await rollbackCheck(tx, request, input, reopened?.id);
      if (reopened) {
        row.id = reopened.id;
        if (!(await reopenRejectedRelease(tx, Number(reopened.id), row))) throw new HallmarkError('conflict', `release ${reopened.id} changed meanwhile; try again`, 409);
      } else row.id = await insertRelease(tx, row);
      await deps.audit.recordIn(tx, {
        actor: input.actor,
        action: signature ? 'release.sign' : 'release.request',
        target: `${request.product}@${request.version}`,
        outcome: 'success',
        source: input.source,
        details: { release: row.id, signer: input.signer, channel: request.channel, digestAlgorithm: request.digestAlgorithm, digest: request.digest, format: request.format, rollbackOverride: row.override_reason ?? undefined, reopened: reopened ? true : undefined },
      });
    });
  } catch (e) {
    // The same artifact signed at the same moment elsewhere: that record is the answer.
    if (!isUniqueViolation(e)) throw e;
    const winner = await findReleaseByKey(deps.store, key);
    if (!winner) throw e;
    return { release: sameVersion(winner, request), replayed: true };
  }
  return { release: row, replayed: false };
}

/**
 * The two-person rule's second step: a principal other than the one who asked approves a pending
 * release; the signer's checks and the rollback check are made again (a newer version may have been
 * signed meanwhile), then the token signs and the release and its audit entry are recorded.
 */
export async function approveRelease(deps: ReleaseDeps, input: { id: number; actor: string; source?: string }): Promise<ReleaseRow> {
  const row = await findRelease(deps.store, input.id);
  if (!row) throw new HallmarkError('unknown_release', `no release ${input.id} (hallmark release list)`, 404);
  if (row.status !== 'pending') throw new HallmarkError('not_pending', `release ${input.id} is ${row.status}, not waiting for approval`, 409);
  if (row.requested_by === input.actor) throw new HallmarkError('same_person', `release ${input.id} was asked for by ${input.actor}: a second, different principal approves it`, 403);
  const request = { digestAlgorithm: row.digest_algorithm as DigestName, digest: row.digest, format: row.format as SignatureFormat, timestamp: Boolean(row.timestamped), product: row.product, channel: row.channel, version: row.version };
  const now = deps.clock.now();
  // A newer version may have been signed since it was asked for; an override recorded then still holds.
  await rollbackCheck(deps.store, row, { rollbackOverride: row.override_reason ?? undefined, mayOverride: true }, row.id);
  const signer = await usableSigner(deps, row.signer, request, now);
  const signature = await signatureFor(deps, signer, request, now);
  await inTransaction(deps.store, async (tx) => {
    // Again where it is recorded, one transaction per product and channel at a time (as signRelease).
    await lockProductChannel(tx, row.product, row.channel);
    await rollbackCheck(tx, row, { rollbackOverride: row.override_reason ?? undefined, mayOverride: true }, row.id);
    if (!(await completeRelease(tx, input.id, { signature, signer_serial: signer.row.serial, approved_by: input.actor, approved_at: now.getTime() }))) throw new HallmarkError('not_pending', `release ${input.id} was approved or rejected meanwhile`, 409);
    await deps.audit.recordIn(tx, { actor: input.actor, action: 'release.approve', target: `${row.product}@${row.version}`, outcome: 'success', source: input.source, details: { release: input.id, signer: row.signer, requestedBy: row.requested_by } });
  });
  return { ...row, status: 'signed', signature, signer_serial: signer.row.serial, approved_by: input.actor, approved_at: now.getTime() };
}

/**
 * The two-person rule's other answer: a pending release is refused, with a reason (audited). It is
 * never signed, and holds back no later version. The principal who asked may withdraw it the same way.
 */
export async function rejectRelease(deps: Pick<ReleaseDeps, 'store' | 'audit' | 'clock'>, input: { id: number; reason: string; actor: string; source?: string }): Promise<ReleaseRow> {
  const reason = input.reason.trim();
  if (!reason || reason.length > 500) throw new HallmarkError('invalid_reason', 'a rejection needs a reason (at most 500 characters)', 400);
  const row = await findRelease(deps.store, input.id);
  if (!row) throw new HallmarkError('unknown_release', `no release ${input.id} (hallmark release list)`, 404);
  const now = deps.clock.now().getTime();
  await inTransaction(deps.store, async (tx) => {
    if (!(await rejectPendingRelease(tx, input.id, { rejected_by: input.actor, rejected_at: now, rejection_reason: reason }))) {
      throw new HallmarkError('not_pending', `release ${input.id} is ${(await findRelease(tx, input.id))?.status ?? row.status}, not waiting for approval`, 409);
    }
    await deps.audit.recordIn(tx, { actor: input.actor, action: 'release.reject', target: `${row.product}@${row.version}`, outcome: 'success', source: input.source, details: { release: input.id, signer: row.signer, requestedBy: row.requested_by, reason } });
  });
  return { ...row, status: 'rejected', rejected_by: input.actor, rejected_at: now, rejection_reason: reason };
}

type SignCheck = { digestAlgorithm: DigestName; digest: string; format: SignatureFormat; timestamp?: boolean; product: string };

/**
 * The signer, if it may sign this now: a firmware signer, its certificate valid and not revoked, a raw
 * digest of its key's hash. Checked on its record before its key is looked up on the token (a retired or
 * revoked signer's key is gone: it is refused as such, not as a missing key).
 */
async function usableSigner(deps: ReleaseDeps, name: string, request: SignCheck, now: Date): Promise<LoadedSigner> {
  const row = await requireSigner(deps.store, name);
  const status = row.status ?? 'active';
  if (status !== 'active') {
    throw new HallmarkError(`signer_${status}`, `signer "${name}" is ${status}: it signs nothing${status === 'revoked' ? ` until a rollover gives it a new key (hallmark signer rollover ${name})` : ''}`, 409);
  }
  if (!caIsLive(deps, row.ca)) {
    throw new HallmarkError('signer_ca_revoked', `signer "${name}"'s certificate is from CA ${row.ca}, which issues nothing more (revoked or retired): give it a new key from the current CA with hallmark signer rollover ${name}`, 409);
  }
  if (row.purpose !== 'firmware') throw new HallmarkError('not_firmware_signer', `signer "${name}" is a ${row.purpose} signer: it signs no firmware`, 409);
  if (now.getTime() < Number(row.not_before) || now.getTime() >= Number(row.not_after)) {
    throw new HallmarkError('signer_expired', `signer "${name}"'s certificate is valid ${new Date(Number(row.not_before)).toISOString()} to ${new Date(Number(row.not_after)).toISOString()}`, 409);
  }
  const certificate = await findCertificate(deps.store, row.serial);
  if (certificate?.status === 'revoked') throw new HallmarkError('signer_revoked', `signer "${name}"'s certificate ${row.serial} is revoked (${certificate.revocation_reason}): it signs nothing more`, 409);
  // The product line its profile gives it (profile `products`), when it gives one.
  const products = deps.issue.profiles.get(row.profile ?? '')?.products;
  if (products && !products.some((p) => (p.endsWith('*') ? request.product.startsWith(p.slice(0, -1)) : request.product === p))) {
    throw new HallmarkError('product_not_allowed', `signer "${name}" signs ${products.join(', ')} only (its profile ${row.profile}), not ${request.product}`, 403);
  }
  if (request.format === 'raw' && KEY_HASH[row.key_type] !== request.digestAlgorithm) {
    throw new HallmarkError('digest_mismatch', `a raw signature by a ${row.key_type} key is over a ${KEY_HASH[row.key_type]} digest; this one is ${request.digestAlgorithm} (or ask for --format cms)`, 400);
  }
  return loadSignerRow(deps, row);
}

async function signatureFor(deps: ReleaseDeps, signer: LoadedSigner, request: SignCheck, now: Date): Promise<Buffer> {
  const digest = Buffer.from(request.digest, 'hex');
  if (request.format === 'raw') {
    // ECDSA: the DER ECDSA-Sig-Value (r‖s is derived when answering); RSA: RSASSA-PSS, never PKCS#1 v1.5.
    if (signer.key.algorithm.family === 'ecdsa') return Buffer.from(await signer.key.signDigest(digest));
    if (!signer.key.signDigestPss) throw new HallmarkError('no_pss', `the key store cannot sign RSA-PSS with signer "${signer.row.name}"'s key`, 409);
    return Buffer.from(await signer.key.signDigestPss(digest));
  }
  const tsa = request.timestamp ? await currentTsa(deps) : undefined;
  if (request.timestamp && (!tsa || !deps.tsa.enabled)) throw new HallmarkError('no_tsa', 'no time-stamping authority here yet (tsa.enabled, and one start of hallmark serve to make its key)', 409);
  const signatureTimestamp = tsa
    ? (value: Uint8Array) =>
        recordedTimestamp({ store: deps.store, clock: deps.clock, config: deps.tsa, tsa }, { messageImprint: sha256Imprint(value), certReq: true, source: null })
    : undefined;
  return Buffer.from(await detachedSignedData({ digestAlgorithm: request.digestAlgorithm, digest, signer: signer.key, chain: signer.chain, signingTime: now, signatureTimestamp }));
}

/**
 * Rollback protection: the version must be above every version signed for the product on its channel
 * (but release `except`, the one being approved, and the same image's own releases in other formats); an admin may sign it anyway with a reason (recorded
 * and audited). The override reason, or null.
 */
async function rollbackCheck(
  handle: Handle,
  request: { product: string; channel: string; version: string; digest: string },
  input: { rollbackOverride?: string; mayOverride: boolean },
  except?: number,
): Promise<string | null> {
  const newer = (await versionsSigned(handle, request.product, request.channel, { except, digest: request.digest })).filter((v) => compareVersions(request.version, v) <= 0);
  if (!newer.length) return null;
  if (!input.rollbackOverride) {
    throw new HallmarkError('rollback_refused', `${request.product} ${request.version} on channel ${request.channel} is not above ${newer.sort(compareVersions).pop()}, already signed or waiting for approval: refused as a rollback (sign a higher version; an admin may override with a reason: rollbackOverride, or --rollback-override on the CLI)`, 409);
  }
  if (!input.mayOverride) throw new HallmarkError('forbidden', 'only an admin (operator session or the local CLI) may override the rollback check', 403);
  return input.rollbackOverride;
}

function validate(input: SignRequest) {
  const digestAlgorithm = input.digestAlgorithm.toLowerCase().replace('-', '') as DigestName;
  if (!(digestAlgorithm in DIGEST_OIDS)) throw new HallmarkError('invalid_digest_algorithm', `digest algorithm "${input.digestAlgorithm}": sha256 or sha384`, 400);
  const digest = input.digest.toLowerCase();
  if (!/^[0-9a-f]+$/.test(digest) || digest.length !== DIGEST_HEX[digestAlgorithm]) throw new HallmarkError('invalid_digest', `the ${digestAlgorithm} digest is ${DIGEST_HEX[digestAlgorithm]} hex digits`, 400);
  const format = (input.format ?? 'cms') as SignatureFormat;
  if (!SIGNATURE_FORMATS.includes(format)) throw new HallmarkError('invalid_format', `format "${input.format}": cms or raw`, 400);
  const channel = input.channel ?? 'stable';
  for (const [what, value] of [['product', input.product], ['channel', channel]] as const) {
    if (!LABEL.test(value)) throw new HallmarkError(`invalid_${what}`, `${what} "${value}": letters, digits, dots, dashes and underscores, at most 63`, 400);
  }
  if (!VERSION.test(input.version)) throw new HallmarkError('invalid_version', `version "${input.version}": one to four dot-separated numbers (1.4.2), as rollback counters compare them`, 400);
  const metadata = input.metadata ?? {};
  if (Object.keys(metadata).length > 32 || JSON.stringify(metadata).length > 4096 || Object.values(metadata).some((v) => typeof v !== 'string')) {
    throw new HallmarkError('invalid_metadata', 'metadata: at most 32 string values, 4 KiB in all', 400);
  }
  if (input.timestamp && format !== 'cms') throw new HallmarkError('invalid_request', 'a time-stamp travels in a CMS signature: timestamp needs format cms', 400);
  if (input.rollbackOverride !== undefined && !input.rollbackOverride.trim()) throw new HallmarkError('invalid_override', 'a rollback override needs a reason', 400);
  return { digestAlgorithm, digest, format, timestamp: input.timestamp ?? false, channel, product: input.product, version: input.version, metadata };
}

/** An image signed before for the product: the same version, or refused (it cannot be two versions). */
function sameVersion(existing: ReleaseRow, request: ReturnType<typeof validate>): ReleaseRow {
  if (existing.version !== request.version) {
    throw new HallmarkError('digest_signed', `this digest was signed as ${existing.product} ${existing.version} (channel ${existing.channel}), release ${existing.id}`, 409);
  }
  return existing;
}

/**
 * A release as REST answers it: with the chain of the key that signed it (the signer's current one
 * while pending) and, for a raw signature, r‖s.
 */
export async function releaseWithChain(deps: SignerDeps, row: ReleaseRow) {
  const signer = await findSigner(deps.store, row.signer);
  if (!signer) throw new HallmarkError('unknown_signer', `no signer named "${row.signer}"`, 404);
  const key = row.signer_serial && row.signer_serial !== signer.serial ? await findSignerKey(deps.store, row.signer_serial) : signer;
  if (!key) throw new HallmarkError('unknown_signer_key', `release ${row.id}'s signing certificate ${row.signer_serial} is not among signer "${row.signer}"'s keys`, 500);
  return releaseView(row, keyChain(deps, key), key.key_type);
}

/** A release as the CLI and REST show it, with its signature and the signer's chain (PEM). */
export function releaseView(row: ReleaseRow, chain?: Uint8Array[], keyType?: string) {
  const signature = row.signature ? new Uint8Array(row.signature) : undefined;
  return {
    id: Number(row.id),
    /** The release record's id, under the name the external contract gives it. */
    release: Number(row.id),
    signer: row.signer,
    product: row.product,
    channel: row.channel,
    version: row.version,
    digestAlgorithm: row.digest_algorithm,
    digest: row.digest,
    format: row.format,
    status: row.status,
    timestamped: Boolean(row.timestamped),
    ...(signature ? { signature: Buffer.from(signature).toString('base64') } : {}),
    ...(signature && row.format === 'raw' && keyType && keyType in CURVE_BYTES ? { signatureP1363: Buffer.from(ecdsaDerToRaw(signature, CURVE_BYTES[keyType]!)).toString('base64') } : {}),
    ...(chain ? { chain: chainPem(chain) } : {}),
    metadata: JSON.parse(row.metadata) as Record<string, string>,
    rollbackOverride: row.override_reason ?? undefined,
    requestedBy: row.requested_by,
    ...(row.signer_serial ? { signerSerial: row.signer_serial } : {}),
    ...(row.rejected_by ? { rejectedBy: row.rejected_by, rejectedAt: new Date(Number(row.rejected_at)).toISOString(), rejectionReason: row.rejection_reason ?? '' } : {}),
    ...(row.approved_by ? { approvedBy: row.approved_by, approvedAt: new Date(Number(row.approved_at)).toISOString() } : {}),
    createdAt: new Date(Number(row.created_at)).toISOString(),
  };
}
