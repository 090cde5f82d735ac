import { advisoryXactLockNamed } from './advisory-lock.js';
import { isPostgres } from './db.js';
import { sql, sqlTx, type Handle, type StoreTx } from './handle.js';

/** A firmware signer: a key on the token and its code-signing certificate (migration 017). */
export interface SignerRow {
  name: string;
  ca: string;
  key_uri: string;
  key_type: string;
  /** firmware: signs releases; tsa: signs RFC 3161 time-stamps; cmp: signs CMP responses. */
  purpose: string;
  two_person: boolean | number;
  serial: string;
  certificate: Buffer;
  not_before: number;
  not_after: number;
  created_by: string;
  created_at: number;
  /** active: signs; retired or revoked: signs nothing (migration 018). Absent on insert: active. */
  status?: SignerStatus;
  /** How many keys the signer has had: a rollover adds one. */
  generation?: number;
  status_changed_at?: number | null;
  /** The profile its certificates are made under (null: recorded before migration 018 knew it). */
  profile?: string | null;
}

export type SignerStatus = 'active' | 'retired' | 'revoked';

/**
 * A signer's earlier key, replaced in a rollover: verifiable (certificate not revoked) until
 * `verifiable_until` (state overlap), then its certificate is revoked as superseded (state superseded);
 * or replaced after its certificate was revoked (state revoked).
 */
export interface SignerKeyRow {
  serial: string;
  signer: string;
  generation: number;
  ca: string;
  key_uri: string;
  key_type: string;
  certificate: Buffer;
  not_before: number;
  not_after: number;
  state: 'overlap' | 'superseded' | 'revoked';
  replaced_at: number;
  verifiable_until: number | null;
}

/** One signed artifact: recorded in the transaction that audits it, before the signature is returned. */
export interface ReleaseRow {
  id?: number;
  signer: string;
  product: string;
  channel: string;
  version: string;
  digest_algorithm: string;
  digest: string;
  format: string;
  timestamped: boolean | number;
  status: 'pending' | 'signed' | 'rejected';
  signature: Buffer | null;
  metadata: string;
  override_reason: string | null;
  requested_by: string;
  approved_by: string | null;
  approved_at: number | null;
  created_at: number;
  /** The certificate whose key signed it (null while pending). */
  signer_serial?: string | null;
  rejected_by?: string | null;
  rejected_at?: number | null;
  rejection_reason?: string | null;
}

export const insertSigner = async (handle: Handle, row: SignerRow): Promise<void> => void (await sql(handle)('signers').insert(row));
export const findSigner = (handle: Handle, name: string): Promise<SignerRow | undefined> => sql(handle)('signers').where({ name }).first();
export const listSigners = (handle: Handle): Promise<SignerRow[]> => sql(handle)('signers').orderBy('name');

/** The signer's new key and certificate (a rollover), its current one moved to signer_keys. */
export async function replaceSignerKey(handle: Handle, previous: SignerKeyRow, next: Pick<SignerRow, 'ca' | 'key_uri' | 'key_type' | 'serial' | 'certificate' | 'not_before' | 'not_after' | 'profile'>, at: number): Promise<boolean> {
  await sql(handle)('signer_keys').insert(previous);
  // Compare-and-set on the serial being replaced: two rollovers racing cannot both succeed.
  const updated = await sql(handle)('signers')
    .where({ name: previous.signer, serial: previous.serial })
    .update({ ...next, status: 'active', generation: previous.generation + 1, status_changed_at: at });
  return updated === 1;
}

/** A signer's status changes from `from` (compare-and-set); false when it was no longer `from`. */
export const setSignerStatus = async (handle: Handle, name: string, from: SignerStatus, to: SignerStatus, at: number): Promise<boolean> =>
  (await sql(handle)('signers').where({ name, status: from }).update({ status: to, status_changed_at: at })) === 1;

/** A signer's earlier keys, newest first. */
export const signerKeys = (handle: Handle, name: string): Promise<SignerKeyRow[]> => sql(handle)('signer_keys').where({ signer: name }).orderBy('generation', 'desc');
export const findSignerKey = (handle: Handle, serial: string): Promise<SignerKeyRow | undefined> => sql(handle)('signer_keys').where({ serial }).first();
/** Earlier keys whose overlap has ended: their certificates are revoked as superseded next. */
export const overlapsEnded = (handle: Handle, now: number): Promise<SignerKeyRow[]> => sql(handle)('signer_keys').where({ state: 'overlap' }).where('verifiable_until', '<=', now);
export const endOverlap = async (handle: Handle, serial: string): Promise<boolean> => (await sql(handle)('signer_keys').where({ serial, state: 'overlap' }).update({ state: 'superseded' })) === 1;

/** Releases signed by one certificate's key (what a compromise of that key puts in doubt). */
export const releasesSignedBy = (handle: Handle, serial: string): Promise<ReleaseRow[]> => sql(handle)('releases').where({ signer_serial: serial }).orderBy('id');
/** Pending releases of a signer (refused when it is retired or revoked). */
export const pendingReleases = (handle: Handle, signer: string): Promise<ReleaseRow[]> => sql(handle)('releases').where({ signer, status: 'pending' }).orderBy('id');

export async function insertRelease(handle: Handle, row: ReleaseRow): Promise<number> {
  const [inserted] = await sql(handle)('releases').insert(row).returning('id');
  return Number(typeof inserted === 'object' ? (inserted as { id: number }).id : inserted);
}

export type ReleaseKey = Pick<ReleaseRow, 'signer' | 'digest_algorithm' | 'digest' | 'format' | 'product' | 'channel'>;
export const findReleaseByKey = (handle: Handle, key: ReleaseKey): Promise<ReleaseRow | undefined> => sql(handle)('releases').where(key).first();
/** Every release of an image, whatever its signer, format or channel. */
export const releasesOfDigest = (handle: Handle, digestAlgorithm: string, digest: string): Promise<ReleaseRow[]> =>
  sql(handle)('releases').where({ digest_algorithm: digestAlgorithm, digest }).orderBy('id');
export const findRelease = (handle: Handle, id: number): Promise<ReleaseRow | undefined> => sql(handle)('releases').where({ id }).first();

/**
 * Every version already signed or waiting for approval on a product's channel (the rollback check
 * compares against each), but release `except` and releases of the image `digest` itself (the same
 * image in another format is the same version).
 */
export const versionsSigned = async (handle: Handle, product: string, channel: string, other: { except?: number; digest: string }): Promise<string[]> =>
  (await sql(handle)('releases').where({ product, channel }).whereNot('id', other.except ?? -1).whereNot('digest', other.digest).whereNot('status', 'rejected').select('version')).map((r: { version: string }) => r.version);

export function listReleases(handle: Handle, filter: { product?: string; signer?: string; limit: number }): Promise<ReleaseRow[]> {
  const query = sql(handle)('releases').orderBy('id', 'desc').limit(filter.limit);
  if (filter.product) query.where({ product: filter.product });
  if (filter.signer) query.where({ signer: filter.signer });
  return query;
}

/** The newest signer of one of Hallmark's own services, `tsa` or `cmp` (by certificate expiry). */
export const newestServiceSigner = (handle: Handle, purpose: 'tsa' | 'cmp' | 'scep'): Promise<SignerRow | undefined> => sql(handle)('signers').where({ purpose }).orderBy('not_after', 'desc').first();

export const insertTimestamp = async (handle: Handle, row: { serial: string; gen_time: number; hash_algorithm: string; imprint: string; signer: string; source: string | null }): Promise<void> =>
  void (await sql(handle)('timestamps').insert(row));

/** A pending release gets its signature and approver; false when it was no longer pending. */
export async function completeRelease(handle: Handle, id: number, done: { signature: Buffer; signer_serial: string; approved_by: string; approved_at: number }): Promise<boolean> {
  return (await sql(handle)('releases').where({ id, status: 'pending' }).update({ ...done, status: 'signed' })) === 1;
}

/** A pending release is refused (by a second person, or because its signer signs no more); false when it was no longer pending. */
export async function rejectPendingRelease(handle: Handle, id: number, done: { rejected_by: string; rejected_at: number; rejection_reason: string }): Promise<boolean> {
  return (await sql(handle)('releases').where({ id, status: 'pending' }).update({ ...done, status: 'rejected' })) === 1;
}

/** A rejected release asked for anew: signed or pending again, the rejection cleared (it stays in the audit log). */
export async function reopenRejectedRelease(handle: Handle, id: number, row: ReleaseRow): Promise<boolean> {
  const { id: _id, ...fields } = row;
  return (await sql(handle)('releases').where({ id, status: 'rejected' }).update({ ...fields, rejected_by: null, rejected_at: null, rejection_reason: null })) === 1;
}

/**
 * Releases of one product and channel are checked (rollback) and recorded one transaction at a time
 * across instances: on PostgreSQL a transaction advisory lock on the pair, taken before the check; on
 * SQLite the database's one writer does it. Other products and channels are not held up.
 */
export async function lockProductChannel(tx: StoreTx, product: string, channel: string): Promise<void> {
  const trx = sqlTx(tx);
  if (isPostgres(trx)) await advisoryXactLockNamed(trx, `release:${product}/${channel}`); // neither has a slash (releases.ts LABEL)
}
